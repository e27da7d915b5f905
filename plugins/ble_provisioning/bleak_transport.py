"""The production ``BleTransport``: bleak, on whatever backend the platform has.

Backends are injectable (``scanner_backend``/``client_backend`` are bleak's own ``backend=``
hook), so tests drive this exact code over bumble's virtual controllers. Every bleak call
that can hang on a misbehaving stack is bounded by a timeout here, not by the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakCharacteristicNotFoundError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)

from plugins.ble_provisioning.advertising import normalize_uuid
from plugins.ble_provisioning.transport import (
    Advertisement,
    AdvertisementCallback,
    BleError,
    BleUnavailable,
    CharacteristicMissing,
    ConnectTimeout,
    DeviceDisconnected,
    DeviceNotFound,
    GattError,
    Notification,
    NotificationQueue,
    receive_or_disconnect,
)

_LOGGER = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0
DISCONNECT_TIMEOUT = 5.0
# Beyond bleak's own connect timeout: lets the backend cancel cleanly before we give up.
CONNECT_GRACE = 2.0


class BleakTransport:
    """Scan and connect through bleak; one scanner at a time, many sessions."""

    def __init__(
        self,
        *,
        adapter: str | None = None,
        scanner_backend: type[BaseBleakScanner] | None = None,
        client_backend: type[BaseBleakClient] | None = None,
    ) -> None:
        self._bluez: dict[str, Any] = {"adapter": adapter} if adapter else {}
        self._scanner_backend = scanner_backend
        self._client_backend = client_backend
        self._scanner: BleakScanner | None = None

    def _new_scanner(self, service_uuids: Sequence[str] | None, callback: Any) -> BleakScanner:
        return BleakScanner(
            callback,
            list(service_uuids) if service_uuids else None,
            bluez=self._bluez,  # type: ignore[arg-type]
            backend=self._scanner_backend,
        )

    async def probe(self) -> None:
        """Start and stop a scan: the only check that covers D-Bus, adapter and power."""
        scanner = self._new_scanner(None, None)
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await scanner.start()
                await scanner.stop()
        except TimeoutError:
            raise BleUnavailable(
                f"the Bluetooth stack did not answer within {PROBE_TIMEOUT:g} s"
            ) from None
        except Exception as error:
            raise BleUnavailable(describe_unavailable(error)) from error

    async def start_scan(
        self, service_uuids: Sequence[str], on_advertisement: AdvertisementCallback
    ) -> None:
        if self._scanner is not None:
            return

        def detected(device: BLEDevice, data: AdvertisementData) -> None:
            on_advertisement(to_advertisement(device, data))

        scanner = self._new_scanner(service_uuids, detected)
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await scanner.start()
        except TimeoutError:
            raise BleUnavailable(
                f"the Bluetooth stack did not start a scan within {PROBE_TIMEOUT:g} s"
            ) from None
        except Exception as error:
            raise BleUnavailable(describe_unavailable(error)) from error
        self._scanner = scanner

    async def stop_scan(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is None:
            return
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await scanner.stop()
        except Exception:
            _LOGGER.warning("Stopping the BLE scan failed", exc_info=True)

    @contextlib.asynccontextmanager
    async def connect(
        self, address: str, *, connect_timeout: float, handle: Any = None
    ) -> AsyncIterator[BleakSession]:
        disconnected = asyncio.Event()
        client = BleakClient(
            handle if isinstance(handle, BLEDevice) else address,
            lambda _client: disconnected.set(),
            timeout=connect_timeout,
            bluez=self._bluez,  # type: ignore[arg-type]
            backend=self._client_backend,
        )
        try:
            # bleak's own timeout covers only part of connect on some stacks; a connect to
            # a vanished device may otherwise never end.
            async with asyncio.timeout(connect_timeout + CONNECT_GRACE):
                await client.connect()
        except TimeoutError:
            await _quietly_disconnect(client)
            raise ConnectTimeout(
                f"{address} did not accept a connection within {connect_timeout:g} s"
            ) from None
        except BleakDeviceNotFoundError:
            raise DeviceNotFound(f"{address} is not known to the Bluetooth stack") from None
        except BleakBluetoothNotAvailableError as error:
            raise BleUnavailable(describe_unavailable(error)) from error
        except BleakError as error:
            raise DeviceDisconnected(f"connecting to {address} failed: {error}") from error
        except OSError as error:  # no D-Bus socket, adapter removed, permission denied
            raise BleUnavailable(describe_unavailable(error)) from error
        except Exception as error:  # keep the seam's promise: only BleError escapes
            raise BleError(f"connecting to {address} failed: {error!r}") from error
        session = BleakSession(address, client, disconnected)
        try:
            yield session
        finally:
            await _quietly_disconnect(client)

    async def close(self) -> None:
        await self.stop_scan()


class BleakSession:
    """A connected ``BleakClient`` seen through the ``GattSession`` protocol."""

    def __init__(self, address: str, client: BleakClient, disconnected: asyncio.Event) -> None:
        self.address = address
        self._client = client
        self._disconnected = disconnected

    @property
    def mtu(self) -> int:
        return self._client.mtu_size

    @property
    def connected(self) -> bool:
        return self._client.is_connected and not self._disconnected.is_set()

    def has_characteristic(self, service_uuid: str, characteristic_uuid: str) -> bool:
        try:
            self._characteristic(service_uuid, characteristic_uuid)
        except CharacteristicMissing:
            return False
        return True

    def characteristics(self) -> list[tuple[str, str]]:
        return [
            (service.uuid, characteristic.uuid)
            for service in self._client.services
            for characteristic in service.characteristics
        ]

    async def wait_disconnected(self) -> None:
        await self._disconnected.wait()

    def _characteristic(self, service_uuid: str, characteristic_uuid: str) -> Any:
        service = self._client.services.get_service(normalize_uuid(service_uuid))
        characteristic = (
            service.get_characteristic(normalize_uuid(characteristic_uuid)) if service else None
        )
        if characteristic is None:
            raise CharacteristicMissing(
                f"{self.address} has no characteristic {characteristic_uuid} in service "
                f"{service_uuid}"
            )
        return characteristic

    async def read(self, service_uuid: str, characteristic_uuid: str) -> bytes:
        characteristic = self._characteristic(service_uuid, characteristic_uuid)
        async with self._translated("reading", characteristic_uuid):
            return bytes(await self._client.read_gatt_char(characteristic))

    async def write(
        self, service_uuid: str, characteristic_uuid: str, data: bytes, *, response: bool = True
    ) -> None:
        characteristic = self._characteristic(service_uuid, characteristic_uuid)
        async with self._translated("writing", characteristic_uuid):
            await self._client.write_gatt_char(characteristic, data, response=response)

    async def subscribe(
        self,
        service_uuid: str,
        characteristic_uuid: str,
        queue: NotificationQueue | None = None,
    ) -> NotificationQueue:
        characteristic = self._characteristic(service_uuid, characteristic_uuid)
        target: NotificationQueue = queue if queue is not None else asyncio.Queue()
        name = normalize_uuid(characteristic_uuid)

        def notified(_sender: Any, data: bytearray) -> None:
            target.put_nowait(Notification(name, bytes(data)))

        async with self._translated("subscribing to", characteristic_uuid):
            await self._client.start_notify(characteristic, notified)
        return target

    async def receive(self, queue: NotificationQueue, within: float) -> Notification:
        return await receive_or_disconnect(queue, self._disconnected, within, self.address)

    @contextlib.asynccontextmanager
    async def _translated(self, action: str, characteristic_uuid: str) -> AsyncIterator[None]:
        """Map bleak's and the backends' exceptions onto the transport's error types."""
        try:
            yield
        except BleError:
            raise
        except BleakGATTProtocolError as error:
            raise GattError(
                int(error.code),
                f"{self.address} refused {action} {characteristic_uuid}: ATT error "
                f"0x{int(error.code):02x} ({error.code.name})",
            ) from error
        except BleakCharacteristicNotFoundError as error:
            raise CharacteristicMissing(str(error)) from error
        except (BleakError, EOFError, OSError) as error:
            if not self.connected:
                raise DeviceDisconnected(
                    f"{self.address} disconnected while {action} {characteristic_uuid}"
                ) from error
            raise BleError(
                f"{action} {characteristic_uuid} on {self.address} failed: {error}"
            ) from error


async def _quietly_disconnect(client: BleakClient) -> None:
    try:
        async with asyncio.timeout(DISCONNECT_TIMEOUT):
            await client.disconnect()
    except Exception:
        _LOGGER.debug("Disconnect from %s failed", client.address, exc_info=True)


def to_advertisement(device: BLEDevice, data: AdvertisementData) -> Advertisement:
    return Advertisement(
        address=device.address,
        name=data.local_name or device.name,
        rssi=data.rssi,
        service_uuids=tuple(normalize_uuid(item) for item in data.service_uuids),
        service_data={
            normalize_uuid(key): bytes(value) for key, value in data.service_data.items()
        },
        manufacturer_data={key: bytes(value) for key, value in data.manufacturer_data.items()},
        handle=device,
    )


def describe_unavailable(error: BaseException) -> str:
    """A reason an operator can act on, for GET /api/health and the WebSocket."""
    if isinstance(error, FileNotFoundError | ConnectionRefusedError):
        return (
            "no D-Bus system bus, so BlueZ cannot be reached "
            f"({type(error).__name__}: {error}); is bluetoothd running?"
        )
    if isinstance(error, PermissionError):
        return f"not allowed to use Bluetooth over D-Bus ({error})"
    if isinstance(error, BleakBluetoothNotAvailableError):
        return f"Bluetooth is not available: {error.args[0]} ({error.reason.name})"
    if isinstance(error, BleakError):
        return f"Bluetooth is not available: {error}"
    return f"Bluetooth is not available ({type(error).__name__}: {error})"
