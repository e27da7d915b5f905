"""The bridge's wire format: one JSON object per line, ``event`` naming what it is.

Seed events (exactly as the seed's table has them):

=========  ===================  ====================================================
direction  event                fields
=========  ===================  ====================================================
in         start_scan           service_uuid
in         stop_scan            -
in         connect_and_write    address, service_uuid, characteristic_uuid, payload
out        ready                -
out        discovered           address, name, rssi, service_uuids[], service_data{}
out        scan_started         -
out        scan_stopped         -
out        write_result         address, ok, optional error
=========  ===================  ====================================================

``payload`` is a string written as UTF-8 (a JSON object is written as compact JSON);
``service_data`` values are hex strings.
Extensions, all optional, keep the bridge a pure transport while letting the hub run
whole GATT conversations through it: ``write_result`` may carry ``code``; and the
session events ``probe``, ``connect``, ``read``, ``write``, ``subscribe``, ``disconnect``
(each with an ``id``) are answered by ``result`` with the same ``id``, while
``notification`` and ``disconnected`` report what the device does. A line the bridge
cannot use is answered by ``error``; it never ends the bridge.
"""

from __future__ import annotations

from typing import Any

import orjson

from plugins.ble_provisioning.advertising import normalize_uuid

MAX_LINE_BYTES = 64 * 1024

SEED_COMMANDS = frozenset({"start_scan", "stop_scan", "connect_and_write"})
SESSION_COMMANDS = frozenset({"probe", "connect", "read", "write", "subscribe", "disconnect"})


class BadCommand(ValueError):
    """The line is not a command the bridge can carry out; the message says why."""


def encode(event: str, **fields: Any) -> bytes:
    return orjson.dumps({"event": event, **fields}) + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_LINE_BYTES:
        raise BadCommand(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise BadCommand(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadCommand("a command must be a JSON object")
    event = data.get("event")
    if not isinstance(event, str):
        raise BadCommand('a command needs an "event" string')
    if event not in SEED_COMMANDS and event not in SESSION_COMMANDS:
        known = ", ".join(sorted(SEED_COMMANDS | SESSION_COMMANDS))
        raise BadCommand(f"unknown event {event!r} (known: {known})")
    return data


def text(data: dict[str, Any], key: str, *, max_length: int = 512) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise BadCommand(f"{data['event']}: {key!r} must be a non-empty string")
    return value


def uuid_field(data: dict[str, Any], key: str) -> str:
    try:
        return normalize_uuid(text(data, key, max_length=64))
    except ValueError:
        raise BadCommand(f"{data['event']}: {key!r} is not a UUID") from None


def payload_bytes(data: dict[str, Any]) -> bytes:
    """``payload`` (UTF-8 text, the seed's form) or ``payload_hex`` (binary protocols)."""
    if "payload_hex" in data:
        raw = data["payload_hex"]
        if not isinstance(raw, str):
            raise BadCommand(f"{data['event']}: 'payload_hex' must be a hex string")
        try:
            return bytes.fromhex(raw)
        except ValueError:
            raise BadCommand(f"{data['event']}: 'payload_hex' is not hex") from None
    payload = data.get("payload")
    if isinstance(payload, dict | list):
        return orjson.dumps(payload)  # a JSON document handed over as-is, compactly
    if not isinstance(payload, str):
        raise BadCommand(f"{data['event']}: 'payload' must be a string or a JSON object")
    return payload.encode("utf-8")


def seconds(data: dict[str, Any], key: str, default: float, maximum: float = 300.0) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        raise BadCommand(f"{data['event']}: {key!r} must be a number of seconds in (0, {maximum}]")
    return float(value)


def request_id(data: dict[str, Any]) -> int | str:
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadCommand(f"{data['event']}: needs an 'id' (number or string)")
    return value
