"""The shapes of the bodies a device sends, checked by hand (cheaper than a schema).

Each function takes an already decoded JSON object and returns the fields the device
registry needs, or raises ``Rejected`` with a message a firmware author can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.devices.models import Device

from .const import DROP_FOREIGN_DEVICE, DROP_INVALID_PAYLOAD, NAME
from .payloads import Rejected

MAX_CAPABILITIES = 64
MAX_FIRMWARE = 64
MAX_COMMAND_ID = 64
MAX_ERROR = 1024
# Keys through which a body could claim to speak for a device.
IDENTITY_KEYS = ("externalId", "deviceId")


@dataclass(frozen=True, slots=True)
class Handshake:
    device_type: str
    firmware: str | None
    capabilities: list[str]
    # The commands the device accepts, so /api/device-types can list them for its type.
    commands: list[str]


@dataclass(frozen=True, slots=True)
class EventReport:
    type: str
    data: Any
    seq: int | None


@dataclass(frozen=True, slots=True)
class CommandResult:
    command_id: str
    ok: bool
    result: Any
    error: str | None


def invalid(detail: str) -> Rejected:
    return Rejected(DROP_INVALID_PAYLOAD, detail)


def check_identity(body: dict[str, Any], external_id: str, device: Device | None) -> None:
    """Refuse a body whose ``externalId``/``deviceId`` names a device other than the topic's."""
    for key in IDENTITY_KEYS:
        if key in body:
            value = body[key]
            if value != external_id and (device is None or value != device.id):
                raise Rejected(
                    DROP_FOREIGN_DEVICE,
                    f"body says {key}={str(value)[:80]!r} but the topic is device {external_id}",
                )


def handshake(body: dict[str, Any]) -> Handshake:
    device_type = body.get("deviceType")
    if not isinstance(device_type, str) or not NAME.match(device_type):
        raise invalid("'deviceType' must be 1-64 letters, digits or _.:-")
    firmware = body.get("firmware")
    if firmware is not None and (not isinstance(firmware, str) or len(firmware) > MAX_FIRMWARE):
        raise invalid(f"'firmware' must be a string of at most {MAX_FIRMWARE} characters")
    capabilities = _names(body.get("capabilities"), "capabilities")
    commands = _names(body.get("commands"), "commands")
    return Handshake(device_type, firmware, capabilities, commands)


def _names(value: Any, key: str) -> list[str]:
    """An optional list of at most MAX_CAPABILITIES identifiers."""
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_CAPABILITIES
        or not all(isinstance(item, str) and NAME.match(item) for item in value)
    ):
        raise invalid(
            f"'{key}' must be a list of at most {MAX_CAPABILITIES} names "
            "(1-64 letters, digits or _.:-)"
        )
    return list(dict.fromkeys(value))


def event(body: dict[str, Any]) -> EventReport:
    event_type = body.get("type")
    if not isinstance(event_type, str) or not NAME.match(event_type):
        raise invalid("'type' must be 1-64 letters, digits or _.:-")
    seq = body.get("seq")
    if seq is not None and (type(seq) is not int or not 0 <= seq < 2**63):
        raise invalid("'seq' must be a non-negative integer")
    return EventReport(event_type, body.get("data"), seq)


def heartbeat_rssi(body: dict[str, Any]) -> int | None:
    rssi = body.get("rssi")
    if rssi is not None and (type(rssi) is not int or not -150 <= rssi <= 50):
        raise invalid("'rssi' must be an integer dBm between -150 and 50")
    uptime = body.get("uptime")
    if uptime is not None and (type(uptime) not in (int, float) or not 0 <= uptime < 2**63):
        raise invalid("'uptime' must be a non-negative number of seconds")
    return rssi


def command_result(body: dict[str, Any]) -> CommandResult:
    command_id = body.get("id")
    if not isinstance(command_id, str) or not 0 < len(command_id) <= MAX_COMMAND_ID:
        raise invalid("'id' must be the command id the hub sent")
    ok = body.get("ok")
    if type(ok) is not bool:
        raise invalid("'ok' must be true or false")
    error = body.get("error")
    if error is not None and not isinstance(error, str):
        raise invalid("'error' must be a string")
    if error is not None:
        error = error[:MAX_ERROR]
    return CommandResult(command_id, ok, body.get("result"), error)
