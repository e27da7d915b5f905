"""Device triggers: state, event, presence and command status, all through the device index.

``for:`` keeps a per-device timer: the trigger fires once the condition has held for that
long, and a message that breaks the condition before then cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import voluptuous as vol

from hub import events
from hub.event_bus import Event

from ..platforms import Detach, Fire, TriggerContext, TriggerType
from ..validators import device_ref, duration, number

_MISSING = object()


class _Holds:
    """Per-device ``for:`` timers of one trigger."""

    def __init__(self, context: TriggerContext, seconds: float | None, fire: Fire) -> None:
        self._context = context
        self._seconds = seconds
        self._fire = fire
        self.pending: dict[str, asyncio.Task[None]] = {}

    def started(self, device_id: str, data: dict[str, Any]) -> None:
        if self._seconds is None:
            self._fire(data)
            return
        if device_id in self.pending:
            return
        self.pending[device_id] = self._context.start(
            self._hold(device_id, data), name=f"for.{device_id}"
        )

    def broken(self, device_id: str) -> None:
        task = self.pending.pop(device_id, None)
        if task is not None:
            task.cancel()

    async def _hold(self, device_id: str, data: dict[str, Any]) -> None:
        assert self._seconds is not None
        await self._context.clock.sleep(self._seconds)
        self.pending.pop(device_id, None)
        self._fire({**data, "for": self._seconds})

    def stop(self) -> None:
        for task in self.pending.values():
            task.cancel()
        self.pending.clear()


def _value(state: Any, attribute: str | None) -> Any:
    if attribute is None:
        return state
    if isinstance(state, dict) and attribute in state:
        return state[attribute]
    return _MISSING


def _numeric_ok(value: Any, config: dict[str, Any]) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if "above" in config and not value > config["above"]:
        return False
    return not ("below" in config and not value < config["below"])


def state_test(config: dict[str, Any]) -> Callable[[Any], bool]:
    """Whether a value satisfies the trigger's ``to``/``above``/``below`` (what must hold)."""
    has_to, to = "to" in config, config.get("to")
    above, below = config.get("above"), config.get("below")
    numeric = above is not None or below is not None

    def holds(value: Any) -> bool:
        if value is _MISSING:
            return False
        if has_to and value != to:
            return False
        if numeric:
            if value.__class__ not in (int, float):
                return False
            if above is not None and not value > above:
                return False
            if below is not None and not value < below:
                return False
        return True

    return holds


def _attach_state(context: TriggerContext, config: dict[str, Any], fire: Fire) -> Detach:
    attribute = config.get("attribute")
    holds = state_test(config)
    numeric = "above" in config or "below" in config
    has_from = "from" in config
    timers = _Holds(context, config.get("for"), fire)
    pending = timers.pending

    def on_state(event: Event[events.DeviceStateChangedData]) -> None:
        # Runs for every state message of the watched device: the common case (the new
        # value does not satisfy the trigger, no timer running) returns after one test.
        data = event.data
        state = data["state"]
        new = state.get(attribute, _MISSING) if attribute is not None else state
        if not holds(new):
            if pending:
                timers.broken(data["deviceId"])
            return
        device_id = data["deviceId"]
        old_state = data.get("oldState") or {}
        old = old_state.get(attribute, _MISSING) if attribute is not None else old_state
        if has_from and old != config["from"]:
            return
        # A change into the condition: the value changed, and for a threshold, crossed it.
        if old == new or (numeric and _numeric_ok(old, config)):
            return
        timers.started(
            device_id,
            {
                "deviceId": device_id,
                "externalId": data.get("externalId"),
                "attribute": attribute,
                "value": None if new is _MISSING else new,
                "oldValue": None if old is _MISSING else old,
                "state": state,
                "oldState": data.get("oldState"),
            },
        )

    unlisten = context.index.listen(events.DEVICE_STATE_CHANGED, config.get("device"), on_state)

    def detach() -> None:
        unlisten()
        timers.stop()

    return detach


def _attach_event(context: TriggerContext, config: dict[str, Any], fire: Fire) -> Detach:
    wanted_type = config.get("type")
    wanted_data = config.get("data") or {}

    def on_event(event: Event[events.DeviceEventData]) -> None:
        data = event.data
        if wanted_type is not None and data.get("type") != wanted_type:
            return
        if wanted_data and not data_matches(data.get("data"), wanted_data):
            return
        fire(
            {
                "deviceId": data["deviceId"],
                "externalId": data.get("externalId"),
                "type": data.get("type"),
                "data": data.get("data"),
            }
        )

    return context.index.listen(events.DEVICE_EVENT, config.get("device"), on_event)


def data_matches(actual: Any, wanted: dict[str, Any]) -> bool:
    """Every key of ``wanted`` is in ``actual`` with an equal value (nested dicts too)."""
    if not isinstance(actual, dict):
        return False
    for key, value in wanted.items():
        if key not in actual:
            return False
        if isinstance(value, dict):
            if not data_matches(actual[key], value):
                return False
        elif actual[key] != value:
            return False
    return True


def _attach_presence(context: TriggerContext, config: dict[str, Any], fire: Fire) -> Detach:
    wanted = config["online"]
    timers = _Holds(context, config.get("for"), fire)

    def on_presence(event: Event[events.DevicePresenceChangedData]) -> None:
        data = event.data
        if data["online"] != wanted:
            timers.broken(data["deviceId"])
            return
        timers.started(
            data["deviceId"],
            {"deviceId": data["deviceId"], "externalId": data.get("externalId"), "online": wanted},
        )

    unlisten = context.index.listen(
        events.DEVICE_PRESENCE_CHANGED, config.get("device"), on_presence
    )

    def detach() -> None:
        unlisten()
        timers.stop()

    return detach


def _attach_command_status(context: TriggerContext, config: dict[str, Any], fire: Fire) -> Detach:
    device = config.get("device")
    statuses = config.get("status")
    command = config.get("command")
    devices = context.hub.devices

    def on_status(event: Event[events.CommandStatusChangedData]) -> None:
        data = event.data
        if statuses and data["status"] not in statuses:
            return
        if command is not None and data.get("command") != command:
            return
        if device is not None and data["deviceId"] != device:
            # Status events carry only the hub id; the automation may name the external id.
            found = devices.get(data["deviceId"])
            if found is None or found.external_id != device:
                return
        fire(dict(data))

    # Command statuses are rare: one listener for every device, filtered here.
    return context.index.listen(events.COMMAND_STATUS_CHANGED, None, on_status)


def _needs_attribute(config: dict[str, Any]) -> dict[str, Any]:
    if ("above" in config or "below" in config) and "attribute" not in config:
        raise vol.Invalid("above/below need an attribute to compare")
    if "above" in config and "below" in config and config["above"] >= config["below"]:
        raise vol.Invalid("above must be less than below")
    return config


DEVICE_TRIGGERS = (
    TriggerType(
        "device_state",
        vol.All(
            {
                vol.Optional("device"): device_ref,
                vol.Optional("attribute"): vol.All(str, vol.Length(min=1, max=256)),
                vol.Optional("to"): object,
                vol.Optional("from"): object,
                vol.Optional("above"): number,
                vol.Optional("below"): number,
                vol.Optional("for"): duration,
            },
            _needs_attribute,
        ),
        _attach_state,
        "a device's state (or one attribute) changes to a value or crosses a threshold",
    ),
    TriggerType(
        "device_event",
        {
            vol.Optional("device"): device_ref,
            vol.Optional("type"): vol.All(str, vol.Length(min=1, max=256)),
            vol.Optional("data"): dict,
        },
        _attach_event,
        "a device reports an event (of a type, with data that matches)",
    ),
    TriggerType(
        "device_presence",
        {
            vol.Optional("device"): device_ref,
            vol.Required("online"): bool,
            vol.Optional("for"): duration,
        },
        _attach_presence,
        "a device comes online or goes offline (and stays so for a while)",
    ),
    TriggerType(
        "command_status",
        {
            vol.Optional("device"): device_ref,
            vol.Optional("command"): vol.All(str, vol.Length(min=1, max=256)),
            vol.Optional("status"): vol.All(
                vol.Any(str, [str]),
                lambda value: value if isinstance(value, list) else [value],
                [vol.In(("sent", "succeeded", "failed"))],
            ),
        },
        _attach_command_status,
        "a device command is sent, succeeds or fails",
    ),
)
