"""The hub's own provisioning protocol: one JSON write, answered by 2-byte notifications.

The hub subscribes to the status characteristic, writes the whole JSON document to the
credentials characteristic with a write *request* (a long write when it exceeds MTU - 3,
which at the default MTU of 23 is almost always), then reads notifications until the
device reports success or failure. Notifications are two bytes, ``[state, error]``, so
they fit any MTU. docs/ble-provisioning.md is the device-side description.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import orjson

from plugins.ble_provisioning.const import (
    CUSTOM_CREDENTIALS_UUID,
    CUSTOM_PAYLOAD_VERSION,
    CUSTOM_SERVICE_UUID,
    CUSTOM_STATUS_UUID,
)
from plugins.ble_provisioning.credentials import WifiCredentials
from plugins.ble_provisioning.transport import AnswerTimeout, BleError, GattSession


class CustomState(IntEnum):
    IDLE = 0x00
    RECEIVED = 0x01
    CONNECTING = 0x02
    CONNECTED = 0x03
    FAILED = 0x04


class CustomError(IntEnum):
    NONE = 0x00
    INVALID_PAYLOAD = 0x01
    AUTH_FAILED = 0x02
    SSID_NOT_FOUND = 0x03
    WIFI_TIMEOUT = 0x04
    UNSUPPORTED_VERSION = 0x05
    UNKNOWN = 0xFF


# How the device's error codes reach API clients.
ERROR_CODES: dict[int, tuple[str, str]] = {
    CustomError.INVALID_PAYLOAD: ("invalid_payload", "the device could not parse the payload"),
    CustomError.AUTH_FAILED: ("wrong_password", "the access point refused the passphrase"),
    CustomError.SSID_NOT_FOUND: ("ssid_not_found", "the device cannot see that network"),
    CustomError.WIFI_TIMEOUT: ("wifi_timeout", "the device could not join the network in time"),
    CustomError.UNSUPPORTED_VERSION: (
        "unsupported_version",
        "the device does not understand this payload version",
    ),
    CustomError.UNKNOWN: ("device_error", "the device reported an unspecified error"),
}


@dataclass(frozen=True, slots=True)
class StationInfo:
    """What a device needs to reach the hub once it is on the network."""

    station_id: str
    external_id: str
    broker_url: str
    device_token: str
    hub_url: str | None = None


class DeviceRejected(BleError):
    """The device received the payload and reported that it failed."""

    code = "rejected"

    def __init__(self, reason: str, message: str, device_error: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.device_error = device_error


@dataclass(frozen=True, slots=True)
class CustomCharacteristics:
    service: str = CUSTOM_SERVICE_UUID
    credentials: str = CUSTOM_CREDENTIALS_UUID
    status: str = CUSTOM_STATUS_UUID


def build_payload(credentials: WifiCredentials, station: StationInfo) -> bytes:
    """Compact UTF-8 JSON; quotes, newlines and non-ASCII survive JSON escaping intact."""
    document: dict[str, Any] = {
        "v": CUSTOM_PAYLOAD_VERSION,
        "ssid": credentials.ssid,
        "password": credentials.password,
        "stationId": station.station_id,
        "externalId": station.external_id,
        "broker": station.broker_url,
        "deviceToken": station.device_token,
    }
    if station.hub_url:
        document["hubUrl"] = station.hub_url
    return orjson.dumps(document)


# Progress names for API clients; distinct from the BLE link's own "connecting"/"connected".
STATE_NAMES: dict[int, str] = {
    CustomState.IDLE: "idle",
    CustomState.RECEIVED: "received",
    CustomState.CONNECTING: "joining_wifi",
    CustomState.CONNECTED: "wifi_joined",
    CustomState.FAILED: "wifi_failed",
}


def decode_status(value: bytes) -> tuple[int, int]:
    """``[state, error]``; a one-byte value means "no error"."""
    if not value:
        return CustomState.IDLE, CustomError.NONE
    return value[0], (value[1] if len(value) > 1 else CustomError.NONE)


StateListener = Callable[[str], None]


async def provision_custom(
    session: GattSession,
    payload: bytes,
    *,
    answer_timeout: float,
    characteristics: CustomCharacteristics | None = None,
    on_state: StateListener | None = None,
) -> None:
    """Write ``payload`` and wait for ``CONNECTED``; raise a BleError subclass otherwise."""
    characteristics = characteristics or CustomCharacteristics()
    statuses = await session.subscribe(characteristics.service, characteristics.status)
    await session.write(
        characteristics.service, characteristics.credentials, payload, response=True
    )
    deadline = time.monotonic() + answer_timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AnswerTimeout(
                f"{session.address} did not report a result in {answer_timeout:g} s"
            )
        state, error = decode_status((await session.receive(statuses, remaining)).value)
        if on_state is not None and state in STATE_NAMES:
            on_state(STATE_NAMES[state])
        if state == CustomState.CONNECTED:
            return
        if state == CustomState.FAILED:
            reason, message = ERROR_CODES.get(error, ERROR_CODES[CustomError.UNKNOWN])
            raise DeviceRejected(reason, f"{session.address}: {message}", error)
