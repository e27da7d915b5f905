"""Small voluptuous validators shared by triggers, conditions and actions."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import voluptuous as vol

from .const import MAX_DURATION
from .templates import check_template, is_template

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\Z")


def duration(value: Any) -> float:
    """Seconds: a number, ``"HH:MM:SS"``/``"MM:SS"``, or ``{hours:, minutes:, seconds:,
    milliseconds:}`` (Home Assistant's spellings)."""
    if isinstance(value, bool):
        raise vol.Invalid("expected a duration (seconds, 'HH:MM:SS' or {minutes: ...})")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        parts = value.strip().split(":")
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            raise vol.Invalid(f"{value!r} is not a duration (seconds or 'HH:MM:SS')") from None
        if len(numbers) > 3:
            raise vol.Invalid(f"{value!r} is not a duration (seconds or 'HH:MM:SS')")
        seconds = 0.0
        for number in numbers:
            seconds = seconds * 60 + number
    elif isinstance(value, dict):
        units = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "milliseconds": 0.001}
        unknown = set(value) - set(units)
        if unknown:
            raise vol.Invalid(f"unknown duration unit {sorted(unknown)[0]!r}")
        seconds = 0.0
        for unit, factor in units.items():
            amount = value.get(unit, 0)
            if isinstance(amount, bool) or not isinstance(amount, int | float):
                raise vol.Invalid(f"duration {unit} must be a number")
            seconds += amount * factor
    else:
        raise vol.Invalid("expected a duration (seconds, 'HH:MM:SS' or {minutes: ...})")
    if not 0 <= seconds <= MAX_DURATION:
        raise vol.Invalid(f"a duration must be between 0 and {MAX_DURATION:g} seconds")
    return seconds


def time_of_day(value: Any) -> time:
    """``"07:30"`` or ``"07:30:15"`` (YAML may also hand over seconds since midnight)."""
    if isinstance(value, time):
        return value
    if isinstance(value, int):
        # YAML 1.1 reads an unquoted 7:30 as the number 450 (base 60): refuse to guess.
        raise vol.Invalid(f"{value!r} is not a time of day: quote it, e.g. '07:30'")
    match = _CLOCK.match(str(value).strip())
    if not match:
        raise vol.Invalid(f"{value!r} is not a time of day ('HH:MM' or 'HH:MM:SS')")
    hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise vol.Invalid(f"{value!r} is not a time of day ('HH:MM' or 'HH:MM:SS')")
    return time(hours, minutes, seconds)


def number(value: Any) -> float | int:
    """A real number (a bool is not one, though Python thinks so)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    return value


def device_ref(value: Any) -> str:
    """A device by its external id or hub id (a template is allowed in actions)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise vol.Invalid("expected a device's external id or hub id")
    return value


def template(value: str) -> str:
    """A template that compiles (its error message kept: voluptuous would drop it)."""
    try:
        return check_template(value)
    except ValueError as error:
        raise vol.Invalid(str(error)) from None


def template_or(validator: Any) -> Any:
    """``validator``, unless the value is a template (checked, rendered at run time)."""

    def validate(value: Any) -> Any:
        if is_template(value):
            return template(value)
        return vol.Schema(validator)(value)

    return validate


def any_value(value: Any) -> Any:
    """Any value, but strings that are templates must compile."""
    if is_template(value):
        return template(value)
    if isinstance(value, dict):
        return {key: any_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [any_value(item) for item in value]
    return value


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekdays(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        text = str(item).lower()[:3]
        if text not in WEEKDAYS:
            raise vol.Invalid(f"{item!r} is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
        result.append(text)
    return result
