"""Improv Wi-Fi over BLE (https://www.improv-wifi.com/ble/): codec and client flow.

ESPHome, WLED and other firmwares ship this standard, so the hub can put them on Wi-Fi
without our own firmware. Improv carries only SSID and passphrase; a device provisioned
this way learns nothing about the station (see docs/ble-provisioning.md).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from plugins.ble_provisioning.const import (
    IMPROV_CAPABILITIES_UUID,
    IMPROV_CURRENT_STATE_UUID,
    IMPROV_ERROR_STATE_UUID,
    IMPROV_RPC_COMMAND_UUID,
    IMPROV_RPC_RESULT_UUID,
    IMPROV_SERVICE_UUID,
)
from plugins.ble_provisioning.credentials import WifiCredentials
from plugins.ble_provisioning.custom_protocol import DeviceRejected, StateListener
from plugins.ble_provisioning.transport import (
    AnswerTimeout,
    BleError,
    GattSession,
    Notification,
    NotificationQueue,
)

# After "provisioned", how long to wait for the RPC result that may carry a URL.
RESULT_GRACE = 2.0


class ImprovState(IntEnum):
    AUTHORIZATION_REQUIRED = 0x01
    AUTHORIZED = 0x02
    PROVISIONING = 0x03
    PROVISIONED = 0x04


class ImprovError(IntEnum):
    NONE = 0x00
    INVALID_RPC = 0x01
    UNKNOWN_RPC = 0x02
    UNABLE_TO_CONNECT = 0x03
    NOT_AUTHORIZED = 0x04
    UNKNOWN = 0xFF


class ImprovCommand(IntEnum):
    WIFI_SETTINGS = 0x01
    IDENTIFY = 0x02
    DEVICE_INFO = 0x03


class ImprovCapability(IntFlag):
    IDENTIFY = 0x01
    DEVICE_INFO = 0x02


ERROR_REASONS: dict[int, tuple[str, str]] = {
    ImprovError.INVALID_RPC: ("invalid_rpc", "the device could not parse the RPC packet"),
    ImprovError.UNKNOWN_RPC: ("unknown_rpc", "the device does not know that RPC command"),
    ImprovError.UNABLE_TO_CONNECT: (
        "unable_to_connect",
        "the device could not join the network (wrong passphrase or network out of reach)",
    ),
    ImprovError.NOT_AUTHORIZED: (
        "authorization_required",
        "the device requires authorization first (press its button)",
    ),
    ImprovError.UNKNOWN: ("device_error", "the device reported an unknown error"),
}


class InvalidFrame(ValueError):
    pass


class ImprovNotSupported(BleError):
    code = "not_supported"


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def encode_frame(command: int, data: bytes = b"") -> bytes:
    """``[command, length, data..., checksum]`` as the RPC characteristics carry it."""
    if len(data) > 255:
        raise InvalidFrame(f"RPC data is {len(data)} bytes; Improv allows 255")
    head = bytes([command, len(data)]) + data
    return head + bytes([checksum(head)])


def decode_frame(frame: bytes) -> tuple[int, bytes]:
    if len(frame) < 3:
        raise InvalidFrame("an RPC frame has at least command, length and checksum")
    length = frame[1]
    if len(frame) != length + 3:
        raise InvalidFrame(f"the frame announces {length} data bytes but has {len(frame) - 3}")
    if checksum(frame[:-1]) != frame[-1]:
        raise InvalidFrame("checksum mismatch")
    return frame[0], frame[2:-1]


def encode_strings(values: list[str]) -> bytes:
    out = bytearray()
    for value in values:
        raw = value.encode("utf-8")
        if len(raw) > 255:
            raise InvalidFrame("an Improv string is at most 255 bytes")
        out += bytes([len(raw)]) + raw
    return bytes(out)


def decode_strings(data: bytes) -> list[str]:
    values: list[str] = []
    index = 0
    while index < len(data):
        length = data[index]
        raw = data[index + 1 : index + 1 + length]
        if len(raw) != length:
            raise InvalidFrame("a string runs past the end of the RPC result")
        values.append(raw.decode("utf-8", errors="replace"))
        index += 1 + length
    return values


def wifi_settings_frame(credentials: WifiCredentials) -> bytes:
    return encode_frame(
        ImprovCommand.WIFI_SETTINGS, encode_strings([credentials.ssid, credentials.password])
    )


@dataclass(frozen=True, slots=True)
class ServiceData:
    """The 6 bytes advertised under service data UUID 0x4677 (Improv 2.0+)."""

    state: int
    capabilities: int

    @classmethod
    def parse(cls, data: bytes) -> ServiceData | None:
        if len(data) < 2:
            return None
        return cls(state=data[0], capabilities=data[1])

    def encode(self) -> bytes:
        return bytes([self.state, self.capabilities, 0, 0, 0, 0])


def state_name(state: int) -> str:
    try:
        return ImprovState(state).name.lower()
    except ValueError:
        return f"unknown_0x{state:02x}"


@dataclass(frozen=True, slots=True)
class ImprovResult:
    redirect_url: str | None


async def provision_improv(
    session: GattSession,
    credentials: WifiCredentials,
    *,
    answer_timeout: float,
    on_state: StateListener | None = None,
) -> ImprovResult:
    """Send Wi-Fi settings and follow the device's state until provisioned or an error."""
    service = IMPROV_SERVICE_UUID
    # State and error notify on separate characteristics; one queue keeps their order.
    events: NotificationQueue = asyncio.Queue()
    await session.subscribe(service, IMPROV_CURRENT_STATE_UUID, events)
    await session.subscribe(service, IMPROV_ERROR_STATE_UUID, events)
    results = await session.subscribe(service, IMPROV_RPC_RESULT_UUID)
    deadline = time.monotonic() + answer_timeout

    state = _first_byte(await session.read(service, IMPROV_CURRENT_STATE_UUID))
    _report(on_state, state)
    while state == ImprovState.AUTHORIZATION_REQUIRED:
        # Someone has to press the device's button; wait for it within the deadline.
        try:
            notification = await _next(session, events, deadline)
        except AnswerTimeout:
            raise DeviceRejected(
                "authorization_required",
                f"{session.address} requires authorization (press its button) and was not "
                f"authorized within {answer_timeout:g} s",
                ImprovError.NOT_AUTHORIZED,
            ) from None
        if notification.characteristic == IMPROV_CURRENT_STATE_UUID:
            state = _first_byte(notification.value)
            _report(on_state, state)

    await session.write(service, IMPROV_RPC_COMMAND_UUID, wifi_settings_frame(credentials))
    while True:
        notification = await _next(session, events, deadline)
        value = _first_byte(notification.value)
        if notification.characteristic == IMPROV_ERROR_STATE_UUID:
            if value != ImprovError.NONE:
                reason, message = ERROR_REASONS.get(value, ERROR_REASONS[ImprovError.UNKNOWN])
                raise DeviceRejected(reason, f"{session.address}: {message}", value)
            continue
        _report(on_state, value)
        if value == ImprovState.PROVISIONED:
            return ImprovResult(await _redirect_url(session, results))


async def identify(session: GattSession) -> None:
    """Ask the device to blink or beep; refused when it does not advertise the capability."""
    capabilities = await read_capabilities(session)
    if not capabilities & ImprovCapability.IDENTIFY:
        raise ImprovNotSupported(f"{session.address} does not support the Improv identify command")
    await session.write(
        IMPROV_SERVICE_UUID, IMPROV_RPC_COMMAND_UUID, encode_frame(ImprovCommand.IDENTIFY)
    )


async def read_capabilities(session: GattSession) -> int:
    raw = await session.read(IMPROV_SERVICE_UUID, IMPROV_CAPABILITIES_UUID)
    return raw[0] if raw else 0


def _report(on_state: StateListener | None, state: int) -> None:
    if on_state is not None:
        on_state(state_name(state))


def _first_byte(value: bytes) -> int:
    return value[0] if value else 0


async def _next(session: GattSession, queue: NotificationQueue, deadline: float) -> Notification:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise AnswerTimeout(f"{session.address} did not report a result in time")
    return await session.receive(queue, remaining)


async def _redirect_url(session: GattSession, results: NotificationQueue) -> str | None:
    """The first string of the Wi-Fi settings RPC result, if the device sent one.

    A notification carries at most MTU - 3 bytes, so at the default MTU a result with a
    URL arrives cut short; the characteristic itself still holds all of it (long read).
    """
    try:
        raw = (await session.receive(results, RESULT_GRACE)).value
    except AnswerTimeout:
        return None
    try:
        command, data = decode_frame(raw)
    except InvalidFrame:
        try:
            command, data = decode_frame(
                await session.read(IMPROV_SERVICE_UUID, IMPROV_RPC_RESULT_UUID)
            )
        except InvalidFrame:
            return None
    try:
        values = decode_strings(data)
    except InvalidFrame:
        return None
    if command != ImprovCommand.WIFI_SETTINGS or not values:
        return None
    return values[0] or None
