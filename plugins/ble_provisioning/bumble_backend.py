"""bleak backends (``backend=`` for ``BleakScanner``/``BleakClient``) on a bumble host.

``BumbleCentral`` is the hub's "adapter": a bumble ``Device`` in the central role, either
on the test kit's ``VirtualAir`` in this process, or behind any bumble HCI transport: a
USB or serial controller without BlueZ (``hci: usb:0`` in the YAML), or, in tests, a
virtual controller served over ``tcp-client:...`` to the hub or the bridge subprocess.
Its ``scanner_backend`` and ``client_backend`` are classes bleak instantiates itself; they
report what BlueZ would: lower-case 128-bit UUIDs, ``BleakGATTProtocolError`` for ATT
errors, a plain ``TimeoutError`` for a connect that never completes, and the
disconnected callback for a link that drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.device import Advertisement as BumbleAdvertisement
from bumble.device import Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy
from bumble.transport import open_transport
from bumble.transport.common import Transport

from plugins.ble_provisioning.advertising import parse_payload

_LOGGER = logging.getLogger(__name__)

CENTRAL_ADDRESS = "F0:F0:F0:F0:F0:F0"

_PROPERTY_NAMES = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)


class BumbleCentral:
    """One bumble host in the central role, shared by every scanner and client backend."""

    def __init__(self, device: Device, transport: Transport | None = None) -> None:
        self.device = device
        self._transport = transport
        self._scan_users = 0
        self._scan_lock = asyncio.Lock()
        self.mtu: int | None = None
        self.scanner_backend: type[BaseBleakScanner] = type(
            "BumbleScanner", (BumbleScannerBackend,), {"central": self}
        )
        self.client_backend: type[BaseBleakClient] = type(
            "BumbleClient", (BumbleClientBackend,), {"central": self}
        )

    @classmethod
    async def over_hci(
        cls, spec: str, address: str = CENTRAL_ADDRESS, *, mtu: int | None = None
    ) -> BumbleCentral:
        """Drive a controller behind a bumble transport spec (``tcp-client:host:port``)."""
        transport = await open_transport(spec)
        try:
            device = Device.with_hci("hub", hci.Address(address), transport.source, transport.sink)
            await device.power_on()
        except BaseException:
            await transport.close()
            raise
        central = cls(device, transport)
        central.mtu = mtu
        return central

    @property
    def terminated(self) -> asyncio.Future[None] | None:
        """Resolved when the HCI transport is lost (controller unplugged, socket closed)."""
        source = self._transport.source if self._transport is not None else None
        return getattr(source, "terminated", None)

    async def acquire_scan(self) -> None:
        async with self._scan_lock:
            self._scan_users += 1
            if self._scan_users == 1:
                await self.device.start_scanning(active=True, filter_duplicates=False)

    async def release_scan(self) -> None:
        async with self._scan_lock:
            if self._scan_users == 0:
                return
            self._scan_users -= 1
            if self._scan_users == 0 and self.device.is_scanning:
                await self.device.stop_scanning()

    async def close(self) -> None:
        if self._transport is not None:
            await self._transport.close()


class BumbleScannerBackend(BaseBleakScanner):
    """A bleak scanner fed by bumble's advertising reports."""

    central: ClassVar[BumbleCentral]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **_kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._listening = False

    async def start(self) -> None:
        self.seen_devices = {}
        if not self._listening:
            self.central.device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
            self._listening = True
        await self.central.acquire_scan()

    async def stop(self) -> None:
        if self._listening:
            self.central.device.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
            self._listening = False
            await self.central.release_scan()

    def _on_advertisement(self, advertisement: BumbleAdvertisement) -> None:
        parsed = parse_payload(advertisement.data_bytes)
        if not self.is_allowed_uuid(parsed.service_uuids):
            return
        address = advertisement.address.to_string(False)
        tx_power = (
            None
            if advertisement.tx_power == BumbleAdvertisement.TX_POWER_NOT_AVAILABLE
            else advertisement.tx_power
        )
        data = AdvertisementData(
            local_name=parsed.local_name,
            manufacturer_data=parsed.manufacturer_data,
            service_data=parsed.service_data,
            service_uuids=parsed.service_uuids,
            tx_power=parsed.tx_power if parsed.tx_power is not None else tx_power,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        device = self.create_or_update_device(
            address, address, parsed.local_name, advertisement.address, data
        )
        self.call_detection_callbacks(device, data)


class BumbleClientBackend(BaseBleakClient):
    """A bleak client speaking ATT through bumble's GATT client."""

    central: ClassVar[BumbleCentral]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=disconnected_callback,
            timeout=timeout,
            **kwargs,
        )
        details = (
            address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._peer_address: hci.Address = (
            details
            if isinstance(details, hci.Address)
            else hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS)
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._closing = False

    @property
    def name(self) -> str:
        return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        device = self.central.device
        try:
            # bumble sends LE Create Connection Cancel on its own timeout; the outer bound
            # covers a controller that never reports the cancelled attempt.
            async with asyncio.timeout(self._timeout + 1.0):
                connection = await device.connect(
                    self._peer_address, transport=core.PhysicalTransport.LE, timeout=self._timeout
                )
        except (core.TimeoutError, TimeoutError) as error:
            raise TimeoutError(f"connecting to {self.address} timed out") from error
        except core.ConnectionError as error:
            raise BleakError(f"connecting to {self.address} failed: {error}") from error
        except asyncio.CancelledError:
            # Our caller gave up first: withdraw the attempt so the next connect is allowed.
            asyncio.get_running_loop().create_task(self._cancel_pending_connect())
            raise
        self._connection = connection
        self._closing = False
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            if self.central.mtu is not None:
                await self._guard(Peer(connection).request_mtu(self.central.mtu))
            self._peer = Peer(connection)
            self.services = await self._guard(self._discover(self._peer))
        except BaseException:
            await self.disconnect()
            raise

    async def _cancel_pending_connect(self) -> None:
        with contextlib.suppress(Exception):
            await self.central.device.send_sync_command(
                hci.HCI_LE_Create_Connection_Cancel_Command()
            )

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        await peer.discover_services()
        for service_proxy in peer.services:
            await service_proxy.discover_characteristics()
            service = BleakGATTService(
                service_proxy, service_proxy.handle, _uuid_str(service_proxy.uuid)
            )
            collection.add_service(service)
            for proxy in service_proxy.characteristics:
                await proxy.discover_descriptors()
                characteristic = BleakGATTCharacteristic(
                    proxy,
                    proxy.handle,
                    _uuid_str(proxy.uuid),
                    _property_names(int(proxy.properties)),  # type: ignore[arg-type]
                    lambda: self.mtu_size - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                for descriptor_proxy in proxy.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor_proxy,
                            descriptor_proxy.handle,
                            _uuid_str(descriptor_proxy.type),
                            characteristic,
                        )
                    )
        return collection

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._peer = None
        if not self._closing and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await connection.disconnect()
        self._connection = None
        self._peer = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not supported by the bumble test backend")

    async def unpair(self) -> None:
        raise BleakError("pairing is not supported by the bumble test backend")

    def _connected_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._connected_peer()
        return bytearray(await self._guard(peer.read_value(characteristic.obj)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._connected_peer()
        return bytearray(await self._guard(peer.read_value(descriptor.obj)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._connected_peer()
        value = bytes(data)
        if not response and len(value) > self.mtu_size - 3:
            # A Write Command cannot be fragmented; real stacks refuse it too.
            raise BleakError(
                f"write without response of {len(value)} bytes exceeds MTU - 3 "
                f"({self.mtu_size - 3})"
            )
        await self._guard(peer.write_value(characteristic.obj, value, with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        peer = self._connected_peer()
        await self._guard(peer.write_value(descriptor.obj, bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._connected_peer()
        proxy: CharacteristicProxy[bytes] = characteristic.obj

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        await self._guard(peer.subscribe(proxy, deliver, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._connected_peer()
        await self._guard(peer.unsubscribe(characteristic.obj))

    async def _guard(self, awaitable: Any) -> Any:
        """Turn bumble's failure modes into bleak's.

        When the link drops, bumble cancels the pending ATT response future, which
        surfaces as ``CancelledError`` in *our* task; BlueZ reports a BleakError instead.
        """
        with _cancellation_as_disconnect(self):
            try:
                return await awaitable
            except att.ATT_Error as error:
                raise BleakGATTProtocolError(error.error_code) from error
            except core.TimeoutError as error:
                raise BleakError(f"ATT request to {self.address} timed out") from error


@contextlib.contextmanager
def _cancellation_as_disconnect(client: BumbleClientBackend) -> Any:
    task = asyncio.current_task()
    try:
        yield
    except asyncio.CancelledError:
        if task is not None and task.cancelling():
            raise
        raise BleakError(f"{client.address}: Not connected (link lost)") from None


def _uuid_str(value: core.UUID) -> str:
    return str(uuid.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


def _property_names(flags: int) -> list[str]:
    return [name for bit, name in _PROPERTY_NAMES if flags & bit]
