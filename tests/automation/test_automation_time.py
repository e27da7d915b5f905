"""Time triggers and conditions with a FakeClock: DST, clock jumps, patterns."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from plugins.automation.triggers.time import next_pattern, next_time_of_day, pattern_values
from tests.automation.helpers import Runs, fake_clock

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> list[dict]:
    return [{"trigger": "time", "at": text}]


def fired_at(runs: Runs) -> list[str]:
    return [trace["trigger"]["now"] for trace in runs.traces]


async def test_a_time_of_day_fires_daily_at_the_wall_time(automation_hub):
    hub = await automation_hub(
        [{"id": "wake", "triggers": at("07:00"), "actions": [{"event": "x"}]}]
    )
    clock = await fake_clock(hub, datetime(2026, 6, 1, 6, 0, tzinfo=BERLIN))
    runs = Runs(hub)
    await clock.advance(3599)
    assert runs.traces == []
    await clock.advance(1)
    await clock.advance(24 * 3600)
    assert fired_at(runs) == ["2026-06-01T07:00:00+02:00", "2026-06-02T07:00:00+02:00"]


async def test_time_triggers_follow_dst_both_ways(automation_hub):
    hub = await automation_hub(
        [{"id": "night", "triggers": at("02:30:00"), "actions": [{"event": "x"}]}]
    )
    # Spring forward in Berlin, 2026-03-29: 02:00 becomes 03:00; 02:30 never happens.
    clock = await fake_clock(hub, datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN))
    runs = Runs(hub)
    await clock.advance(6 * 3600)
    assert fired_at(runs) == ["2026-03-29T03:30:00+02:00"]
    # Fall back, 2026-10-25: 02:30 happens twice; it fires once, on the first.
    clock = await fake_clock(hub, datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN))
    runs = Runs(hub)
    await clock.advance(6 * 3600)
    assert fired_at(runs) == ["2026-10-25T02:30:00+02:00"]


async def test_a_clock_jump_neither_fires_a_burst_nor_repeats(automation_hub):
    hub = await automation_hub(
        [{"id": "noon", "triggers": at("12:00"), "actions": [{"event": "x"}]}]
    )
    # Booted with a clock far in the past; NTP then steps it to the real date.
    clock = await fake_clock(hub, datetime(1970, 1, 1, 0, 0, tzinfo=UTC))
    runs = Runs(hub)
    await clock.advance(1)  # the trigger is waiting for noon, 1970
    clock.jump((datetime(2026, 11, 29, 11, 59, tzinfo=UTC) - clock.now()).total_seconds())
    await clock.advance(120)  # noticed within a chunk; the 1970 noon is not fired late
    assert fired_at(runs) == ["2026-11-29T12:00:00+00:00"]
    # Stepped back an hour after firing: noon does not fire again today, and does tomorrow.
    clock.jump(-3600)
    await clock.advance(2 * 3600)
    assert len(runs.traces) == 1
    await clock.advance(24 * 3600)
    assert fired_at(runs)[1] == "2026-11-30T12:00:00+00:00"


async def test_a_time_pattern_fires_every_n_seconds(automation_hub):
    hub = await automation_hub(
        [
            {
                "id": "tick",
                "triggers": [{"trigger": "time_pattern", "seconds": "/15"}],
                "actions": [{"event": "x"}],
            }
        ]
    )
    clock = await fake_clock(hub, datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC))
    runs = Runs(hub)
    await clock.advance(60)
    assert [stamp[11:19] for stamp in fired_at(runs)] == [
        "12:00:15",
        "12:00:30",
        "12:00:45",
        "12:01:00",
    ]


def test_a_pattern_keeps_going_through_the_repeated_hour():
    hours, minutes, seconds = pattern_values({"minutes": "/30"})
    instant = datetime(2026, 10, 25, 1, 50, tzinfo=BERLIN)
    seen = []
    for _ in range(6):
        instant = next_pattern(instant, hours, minutes, seconds, BERLIN)
        seen.append(instant.astimezone(BERLIN).isoformat()[11:])
    assert seen == [
        "02:00:00+02:00",
        "02:30:00+02:00",
        "02:00:00+01:00",
        "02:30:00+01:00",
        "03:00:00+01:00",
        "03:30:00+01:00",
    ]
    assert pattern_values({"minutes": 5}) == (list(range(24)), [5], [0])


def test_a_time_in_the_spring_gap_comes_after_the_gap():
    start = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)
    found = next_time_of_day(start, [time(2, 30)], BERLIN)
    assert found.astimezone(BERLIN).isoformat() == "2026-03-29T03:30:00+02:00"


async def test_time_and_weekday_conditions_read_the_clock(automation_hub):
    hub = await automation_hub(
        [
            {
                "id": "office",
                "triggers": [{"trigger": "event", "event_type": "door"}],
                "conditions": [
                    {"condition": "time", "after": "22:00", "before": "06:00"},
                    {"condition": "time", "weekday": ["mon", "tue", "wed", "thu", "fri"]},
                ],
                "actions": [{"event": "alarm"}],
            }
        ]
    )
    # Friday 23:00: inside the window across midnight, on a weekday.
    clock = await fake_clock(hub, datetime(2026, 11, 27, 23, 0, tzinfo=BERLIN))
    runs = Runs(hub)
    hub.bus.fire("door", {})
    first = await runs.wait_for()
    assert first["state"] == "finished"
    assert [item["result"] for item in first["conditions"]] == [True, True]
    await clock.advance(3 * 3600)  # Saturday 02:00: in the window, not a weekday
    hub.bus.fire("door", {})
    second = await runs.wait_for(after=1)
    assert second["state"] == "stopped"
    assert [item["result"] for item in second["conditions"]] == [True, False]
    await clock.advance(6 * 3600)  # Saturday 08:00: outside the window
    hub.bus.fire("door", {})
    third = await runs.wait_for(after=2)
    assert [item["result"] for item in third["conditions"]] == [False]
