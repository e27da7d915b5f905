"""Conditions: whether a triggered run goes on. Each one's result lands in the trace.

A condition names its device by external id or hub id and reads the registry's in-memory
state when it is checked (never the database): checking costs dictionary lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from .templates import render
from .validators import WEEKDAYS, device_ref, number, template_or, time_of_day, weekdays

if TYPE_CHECKING:
    from hub.devices.models import Device

    from .clock import Clock
    from .traces import Trace


@dataclass(slots=True)
class ConditionEnv:
    """What a condition reads: the devices, the time, the run's variables, the trace."""

    devices: Any
    clock: Clock
    variables: dict[str, Any]
    trace: Trace | None = None


Check = Callable[[ConditionEnv], bool]


def find_device(devices: Any, reference: str) -> Device | None:
    """A device by hub id or external id (the two never look alike: ids are hex uuids)."""
    return devices.get(reference) or devices.by_external_id(reference)


def _state(config: dict[str, Any]) -> Check:
    def check(env: ConditionEnv) -> bool:
        device = find_device(env.devices, render(config["device"], env.variables))
        if device is None:
            return False
        attribute = config.get("attribute")
        if attribute is None:
            return device.state == config["state"]
        return attribute in device.state and device.state[attribute] == config["state"]

    return check


def _numeric(config: dict[str, Any]) -> Check:
    def check(env: ConditionEnv) -> bool:
        device = find_device(env.devices, render(config["device"], env.variables))
        if device is None:
            return False
        value = device.state.get(config["attribute"])
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        above, below = (
            render(config.get("above"), env.variables),
            render(config.get("below"), env.variables),
        )
        if above is not None and not value > above:
            return False
        return not (below is not None and not value < below)

    return check


def _presence(config: dict[str, Any]) -> Check:
    def check(env: ConditionEnv) -> bool:
        device = find_device(env.devices, render(config["device"], env.variables))
        return device is not None and device.online is config["online"]

    return check


def _time(config: dict[str, Any]) -> Check:
    after: time | None = config.get("after")
    before: time | None = config.get("before")
    days: list[str] | None = config.get("weekday")

    def check(env: ConditionEnv) -> bool:
        now = env.clock.now()
        if days is not None and WEEKDAYS[now.weekday()] not in days:
            return False
        wall = now.time().replace(tzinfo=None)
        if after is not None and before is not None and before < after:
            return wall >= after or wall < before  # a window across midnight
        if after is not None and wall < after:
            return False
        return not (before is not None and wall >= before)

    return check


def _template(config: dict[str, Any]) -> Check:
    def check(env: ConditionEnv) -> bool:
        return bool(render(config["value_template"], env.variables))

    return check


def _group(kind: str, children: list[Check]) -> Check:
    def check(env: ConditionEnv) -> bool:
        if kind == "and":
            return all(child(env) for child in children)
        if kind == "or":
            return any(child(env) for child in children)
        return not any(child(env) for child in children)

    return check


def compile_condition(config: dict[str, Any], path: str) -> Check:
    """One condition (already validated), recording its result in the trace at ``path``."""
    kind = config["condition"]
    if kind in ("and", "or", "not"):
        inner = _group(
            kind,
            [
                compile_condition(child, f"{path}/conditions/{index}")
                for index, child in enumerate(config["conditions"])
            ],
        )
    else:
        inner = BUILDERS[kind](config)

    def check(env: ConditionEnv) -> bool:
        try:
            result = inner(env)
        except Exception as error:
            if env.trace is not None:
                env.trace.condition(path, kind, False, error=str(error))
            raise
        if env.trace is not None:
            env.trace.condition(path, kind, result)
        return result

    return check


def compile_conditions(configs: list[dict[str, Any]], path: str = "conditions") -> Check:
    """All of ``configs`` must pass; the first that fails stops the others (as HA)."""
    checks = [compile_condition(config, f"{path}/{index}") for index, config in enumerate(configs)]

    def check(env: ConditionEnv) -> bool:
        return all(item(env) for item in checks)

    return check


BUILDERS: dict[str, Callable[[dict[str, Any]], Check]] = {
    "device_state": _state,
    "device_numeric_state": _numeric,
    "device_presence": _presence,
    "time": _time,
    "template": _template,
}


def _numeric_needs_bound(config: dict[str, Any]) -> dict[str, Any]:
    if "above" not in config and "below" not in config:
        raise vol.Invalid("give above, below or both")
    return config


def _time_needs_something(config: dict[str, Any]) -> dict[str, Any]:
    if not any(key in config for key in ("after", "before", "weekday")):
        raise vol.Invalid("give after, before or weekday")
    return config


_DEVICE = {vol.Required("device"): device_ref}
_BOUND = template_or(number)

SCHEMAS: dict[str, Any] = {
    "device_state": {
        **_DEVICE,
        vol.Optional("attribute"): vol.All(str, vol.Length(min=1, max=256)),
        vol.Required("state"): object,
    },
    "device_numeric_state": vol.All(
        {
            **_DEVICE,
            vol.Required("attribute"): vol.All(str, vol.Length(min=1, max=256)),
            vol.Optional("above"): _BOUND,
            vol.Optional("below"): _BOUND,
        },
        _numeric_needs_bound,
    ),
    "device_presence": {**_DEVICE, vol.Required("online"): bool},
    "time": vol.All(
        {
            vol.Optional("after"): time_of_day,
            vol.Optional("before"): time_of_day,
            vol.Optional("weekday"): weekdays,
        },
        _time_needs_something,
    ),
    "template": {vol.Required("value_template"): template_or(str)},
}
GROUPS = ("and", "or", "not")
