"""The seam between provisioning logic and a Bluetooth stack.

Everything above this module (scan lifecycle, custom GATT and Improv flows, the stdio
bridge) talks to a ``BleTransport``. Production has one implementation, on bleak
(``bleak_transport.py``); tests run that same implementation with bleak backends built on
bumble's virtual controllers, so no provisioning code path is replaced by a fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Advertisement:
    """One advertisement as the hub sees it; UUIDs are lower-case 128-bit strings.

    ``handle`` is the stack's own object for the device (bleak's ``BLEDevice``), kept so a
    later connect does not have to scan again.
    """

    address: str
    name: str | None
    rssi: int
    service_uuids: tuple[str, ...] = ()
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    handle: Any = field(default=None, compare=False, repr=False)


AdvertisementCallback = Callable[[Advertisement], None]


@dataclass(frozen=True, slots=True)
class Notification:
    """A notified value and the (normalised) UUID of the characteristic that sent it."""

    characteristic: str
    value: bytes


NotificationQueue = asyncio.Queue[Notification]


class BleError(Exception):
    """Base of every failure a transport reports; ``code`` is stable for API clients."""

    code = "ble_error"


class BleUnavailable(BleError):
    """No adapter, no D-Bus, Bluetooth off: the integration cannot work at all."""

    code = "ble_unavailable"


class DeviceNotFound(BleError):
    code = "device_not_found"


class ConnectTimeout(BleError):
    code = "connect_timeout"


class DeviceDisconnected(BleError):
    """The link dropped while we were talking (device reset, out of range, power loss)."""

    code = "device_disconnected"


class AnswerTimeout(BleError):
    """Connected and written, but the device never said how it went."""

    code = "answer_timeout"


class CharacteristicMissing(BleError):
    """The device does not expose the GATT service or characteristic the protocol needs."""

    code = "characteristic_missing"


class GattError(BleError):
    """The device answered a request with an ATT error response."""

    code = "att_error"

    def __init__(self, att_code: int, message: str) -> None:
        super().__init__(message)
        self.att_code = att_code


class GattSession(Protocol):
    """One connection to one peripheral, services already discovered."""

    address: str

    @property
    def mtu(self) -> int: ...

    @property
    def connected(self) -> bool: ...

    def has_characteristic(self, service_uuid: str, characteristic_uuid: str) -> bool: ...

    def characteristics(self) -> list[tuple[str, str]]:
        """Every (service UUID, characteristic UUID) pair discovered on the device."""
        ...

    async def wait_disconnected(self) -> None:
        """Return once the link is gone (either side ended it)."""
        ...

    async def read(self, service_uuid: str, characteristic_uuid: str) -> bytes: ...

    async def write(
        self, service_uuid: str, characteristic_uuid: str, data: bytes, *, response: bool = True
    ) -> None:
        """Write; with ``response`` a value longer than MTU - 3 goes as a long write."""
        ...

    async def subscribe(
        self,
        service_uuid: str,
        characteristic_uuid: str,
        queue: NotificationQueue | None = None,
    ) -> NotificationQueue:
        """Enable notifications into ``queue`` (a new one unless given) and return it.

        Sharing one queue between characteristics keeps their relative order, which a
        protocol such as Improv (state and error on separate characteristics) needs.
        """
        ...

    async def receive(self, queue: NotificationQueue, within: float) -> Notification:
        """Next notification; raises DeviceDisconnected or AnswerTimeout instead."""
        ...


class BleTransport(Protocol):
    """What the integration and the bridge need from a Bluetooth stack."""

    async def probe(self) -> None:
        """Raise BleUnavailable (with the reason) when Bluetooth cannot be used here."""
        ...

    async def start_scan(
        self, service_uuids: Sequence[str], on_advertisement: AdvertisementCallback
    ) -> None: ...

    async def stop_scan(self) -> None: ...

    def connect(
        self, address: str, *, connect_timeout: float, handle: Any = None
    ) -> AbstractAsyncContextManager[GattSession]:
        """Connect (bounded by ``connect_timeout``), discover services, disconnect on exit."""
        ...

    async def close(self) -> None: ...


async def receive_or_disconnect(
    queue: NotificationQueue, disconnected: asyncio.Event, within: float, address: str
) -> Notification:
    """Wait for the next notification, but give up as soon as the link drops.

    A notify that arrives in the same loop iteration as the disconnect still wins, since
    the device did answer before it went away.
    """
    if not queue.empty():
        return queue.get_nowait()
    if disconnected.is_set():
        raise DeviceDisconnected(f"{address} disconnected before it answered")
    getter = asyncio.ensure_future(queue.get())
    gone = asyncio.ensure_future(disconnected.wait())
    try:
        done, _ = await asyncio.wait({getter, gone}, timeout=within, return_when="FIRST_COMPLETED")
    finally:
        gone.cancel()
        if not getter.done():
            getter.cancel()
    if getter in done:
        return getter.result()
    if gone in done:
        raise DeviceDisconnected(f"{address} disconnected before it answered")
    raise AnswerTimeout(f"{address} did not answer within {within:g} s")
