"""Time triggers: a time of day, and a pattern ("every 5 minutes").

Both compute the next wall-clock instant in the hub's zone (DST-aware: a time that does
not exist on a spring-forward day fires at the first instant after the gap, a time that
happens twice on a fall-back day fires once) and sleep towards it in chunks, re-reading
the wall clock after each, comparing how far it moved with the monotonic clock. When the
wall clock was stepped, only instants inside the sleep just ended still fire: a box that
boots in 1970 and then learns the date does not fire every missed timer at once, and a
clock stepped back does not fire an instant it already fired (it fires again the next day).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import voluptuous as vol

from ..clock import MAX_CHUNK
from ..platforms import Detach, Fire, TriggerContext, TriggerType
from ..validators import time_of_day

# The wall clock moving this much more (or less) than the monotonic one during a sleep is
# a step (NTP after boot, a manual change), not drift.
JUMP_THRESHOLD = 5.0


def _instants(day: date, at: time, zone: tzinfo) -> list[datetime]:
    """The instants (UTC, in order) at which the wall clock in ``zone`` reads ``at`` on
    ``day``: two in a fall-back fold, and for a time skipped by a spring-forward gap, the
    instant the gap ends at the same distance (02:30 in a 02:00-03:00 gap is 03:30)."""
    first = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
    second = datetime.combine(day, at, tzinfo=zone).replace(fold=1).astimezone(UTC)
    if first == second:
        return [first]
    readings = sorted({first, second})
    if all(instant.astimezone(zone).time() == at for instant in readings):
        return readings
    return [readings[-1]]


def next_time_of_day(after: datetime, times: list[time], zone: tzinfo) -> datetime:
    """The first instant strictly after ``after`` whose wall time is one of ``times``
    (in a fold, only the first of the two readings counts)."""
    local_day = after.astimezone(zone).date()
    for offset in range(3):
        day = local_day + timedelta(days=offset)
        found = [_instants(day, at, zone)[0] for at in times]
        later = [instant for instant in found if instant > after]
        if later:
            return min(later)
    raise AssertionError("a time of day always comes within three days")


def _field(spec: Any, top: int) -> list[int]:
    if spec == "*":
        return list(range(top))
    if isinstance(spec, str) and spec.startswith("/"):
        step = int(spec[1:])
        return list(range(0, top, step))
    return [int(spec)]


def pattern_values(config: dict[str, Any]) -> tuple[list[int], list[int], list[int]]:
    """Hours, minutes, seconds that match; what is finer than the finest given is 0 and
    what is coarser is every value (Home Assistant's rule)."""
    given = [name for name in ("hours", "minutes", "seconds") if name in config]
    finest = given[-1]
    order = ("hours", "minutes", "seconds")
    specs = {}
    for name in order:
        if name in config:
            specs[name] = config[name]
        elif order.index(name) > order.index(finest):
            specs[name] = 0
        else:
            specs[name] = "*"
    return _field(specs["hours"], 24), _field(specs["minutes"], 60), _field(specs["seconds"], 60)


def next_pattern(
    after: datetime, hours: list[int], minutes: list[int], seconds: list[int], zone: tzinfo
) -> datetime:
    """The first instant strictly after ``after`` whose wall time matches the pattern.

    In a fall-back fold both readings of a wall time match ("every 5 minutes" keeps going
    through the repeated hour): the first readings and the second readings are each in
    wall-clock order, so each is searched on its own and the earlier result wins.
    """
    local = after.astimezone(zone).replace(tzinfo=None)
    found = _search(local, after, (hours, minutes, seconds), zone, first=True)
    near = timedelta(hours=3)
    if (after - near).astimezone(zone).utcoffset() != (after + near).astimezone(zone).utcoffset():
        second = _search(local - near, after, (hours, minutes, seconds), zone, first=False)
        if second is not None and (found is None or second < found):
            found = second
    if found is None:
        raise AssertionError("a time pattern always matches within three days")
    return found


def _search(
    start: datetime,
    after: datetime,
    pattern: tuple[list[int], list[int], list[int]],
    zone: tzinfo,
    *,
    first: bool,
) -> datetime | None:
    hours, minutes, seconds = pattern
    for offset in range(4):
        day = start.date() + timedelta(days=offset)
        today = offset == 0
        for hour in hours:
            if today and hour < start.hour:
                continue
            for minute in minutes:
                if today and hour == start.hour and minute < start.minute:
                    continue
                for second in seconds:
                    if (
                        today
                        and (hour, minute) == (start.hour, start.minute)
                        and second < start.second
                    ):
                        continue
                    readings = _instants(day, time(hour, minute, second), zone)
                    instant = readings[0] if first else readings[-1]
                    if instant > after:
                        return instant
    return None


def _attach_schedule(
    context: TriggerContext,
    next_after: Callable[[datetime], datetime],
    fire: Fire,
    describe: Callable[[datetime], dict[str, Any]],
) -> Detach:
    clock = context.clock

    def utc_now() -> datetime:
        # Arithmetic between two times of one ZoneInfo is wall-clock arithmetic (it
        # ignores a DST change in between); in UTC it is elapsed time.
        return clock.now().astimezone(UTC)

    async def run() -> None:
        fired: datetime | None = None
        target = next_after(utc_now())
        while True:
            wall, mono = utc_now(), clock.monotonic()
            remaining = (target - wall).total_seconds()
            if remaining > 0:
                await clock.sleep(min(remaining, MAX_CHUNK))
                slept = clock.monotonic() - mono
                now = utc_now()
                if abs((now - wall).total_seconds() - slept) > JUMP_THRESHOLD:
                    # The wall clock was stepped while we slept. It is right since at
                    # least the step, so what fell due during the sleep still fires;
                    # nothing earlier does, and nothing fires twice.
                    since = now - timedelta(seconds=slept)
                    target = next_after(since if fired is None else max(since, fired))
                continue
            fire(describe(target))
            fired = target
            target = next_after(max(target, utc_now()))

    task = context.start(run(), name="schedule")
    return task.cancel


def _attach_time(context: TriggerContext, config: dict[str, Any], fire: Fire) -> Detach:
    times: list[time] = config["at"]
    zone = context.clock.zone

    def describe(instant: datetime) -> dict[str, Any]:
        local = instant.astimezone(zone)
        return {"at": local.time().isoformat(), "now": local.isoformat()}

    return _attach_schedule(
        context, lambda after: next_time_of_day(after, times, zone), fire, describe
    )


def _attach_pattern(context: TriggerContext, config: dict[str, Any], fire: Fire) -> Detach:
    hours, minutes, seconds = pattern_values(config)
    zone = context.clock.zone

    def describe(instant: datetime) -> dict[str, Any]:
        return {"now": instant.astimezone(zone).isoformat()}

    return _attach_schedule(
        context,
        lambda after: next_pattern(after, hours, minutes, seconds, zone),
        fire,
        describe,
    )


def _pattern_field(top: int) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if value == "*":
            return value
        if isinstance(value, str) and value.startswith("/"):
            try:
                step = int(value[1:])
            except ValueError:
                raise vol.Invalid(f"{value!r}: '/N' needs a whole number N") from None
            if not 1 <= step < top:
                raise vol.Invalid(f"{value!r}: N in '/N' must be 1 to {top - 1}")
            return value
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise vol.Invalid(f"{value!r}: expected a number, '/N' (every N) or '*'") from None
        if not 0 <= number < top:
            raise vol.Invalid(f"{value!r}: must be 0 to {top - 1}")
        return number

    return validate


def _some_field(config: dict[str, Any]) -> dict[str, Any]:
    if not any(name in config for name in ("hours", "minutes", "seconds")):
        raise vol.Invalid("give at least one of hours, minutes, seconds (e.g. minutes: '/5')")
    return config


TIME_TRIGGERS = (
    TriggerType(
        "time",
        {
            vol.Required("at"): vol.All(
                lambda value: value if isinstance(value, list) else [value],
                vol.Length(min=1, max=100),
                [time_of_day],
            )
        },
        _attach_time,
        "a time of day in the hub's time zone",
    ),
    TriggerType(
        "time_pattern",
        vol.All(
            {
                vol.Optional("hours"): _pattern_field(24),
                vol.Optional("minutes"): _pattern_field(60),
                vol.Optional("seconds"): _pattern_field(60),
            },
            _some_field,
        ),
        _attach_pattern,
        "a wall-clock pattern: every N seconds, minutes or hours, or at a fixed value",
    ),
)
