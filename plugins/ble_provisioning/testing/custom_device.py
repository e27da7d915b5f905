"""A simulated ESP32 running the hub's custom GATT provisioning firmware.

It advertises the way docs/ble-provisioning.md tells firmware authors to, receives the
JSON document (as one write or a long write), "joins" a Wi-Fi network from its list of
known networks and answers by notify. Behaviours cover the failure paths the hub must
handle: wrong passphrase, an ATT error on the write, losing power mid-write, silence.
"""

from __future__ import annotations

import asyncio
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from bumble import att, gatt
from bumble.device import Connection, Device

from plugins.ble_provisioning import advertising
from plugins.ble_provisioning.const import (
    CUSTOM_CREDENTIALS_UUID,
    CUSTOM_PAYLOAD_VERSION,
    CUSTOM_SERVICE_UUID,
    CUSTOM_STATUS_UUID,
)
from plugins.ble_provisioning.custom_protocol import CustomError, CustomState
from plugins.ble_provisioning.testing.radio import VirtualAir

SHORT_NAME_BYTES = 8
# An application-level ATT error, as an ESP-IDF GATT server returns for a refused write.
DEFAULT_ATT_ERROR = 0x80


class Behaviour(enum.Enum):
    FIRMWARE = "firmware"  # parse, check the network, answer success or failure
    ATT_ERROR = "att_error"  # refuse the write with an ATT error response
    VANISH_MID_WRITE = "vanish_mid_write"  # lose power after part of the payload arrived
    SILENT = "silent"  # accept the write, never notify


@dataclass
class SimulatedProvisioningDevice:
    """Create with ``await SimulatedProvisioningDevice.start(air, ...)``."""

    air: VirtualAir
    address: str
    name: str
    networks: dict[str, str]
    behaviour: Behaviour = Behaviour.FIRMWARE
    att_error: int = DEFAULT_ATT_ERROR
    vanish_after_bytes: int = 20
    service_uuid: str = CUSTOM_SERVICE_UUID
    device: Device | None = None
    payloads: list[dict[str, Any]] = field(default_factory=list)
    raw_writes: list[bytes] = field(default_factory=list)
    notified: list[bytes] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    written: asyncio.Event = field(default_factory=asyncio.Event)
    vanished: asyncio.Event = field(default_factory=asyncio.Event)
    _status: gatt.Characteristic[bytes] | None = None
    prepared_parts: int = 0  # Prepare Write requests seen: >0 means a long write
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _bytes_seen: int = 0

    @classmethod
    async def start(
        cls, air: VirtualAir, address: str, name: str = "ESP32-Provision", **options: Any
    ) -> SimulatedProvisioningDevice:
        simulated = cls(air, address, name, options.pop("networks", {}), **options)
        await simulated._power_on()
        return simulated

    async def _power_on(self) -> None:
        self.device = await self.air.device(self.name, self.address)
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)
        credentials: gatt.Characteristic[bytes] = gatt.Characteristic(
            CUSTOM_CREDENTIALS_UUID,
            gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_write),
        )
        self._status = gatt.Characteristic(
            CUSTOM_STATUS_UUID,
            gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE,
            bytes([CustomState.IDLE, CustomError.NONE]),
        )
        self.device.add_service(gatt.Service(self.service_uuid, [credentials, self._status]))
        self._watch_long_writes()
        await self._advertise()

    async def _advertise(self) -> None:
        assert self.device is not None
        await self.device.start_advertising(
            advertising_data=self.advertising_data(),
            scan_response_data=self.scan_response_data(),
            advertising_interval_min=20,
            advertising_interval_max=20,
        )

    def advertising_data(self) -> bytes:
        """Flags + the service UUID + a shortened name: 3 + 18 + 10 = 31 bytes."""
        short = self.name.encode("utf-8")[:SHORT_NAME_BYTES].decode("utf-8", errors="ignore")
        return advertising.build_payload(
            [
                advertising.flags(),
                advertising.complete_service_uuids([self.service_uuid]),
                advertising.local_name(short, complete=short == self.name),
            ]
        )

    def scan_response_data(self) -> bytes:
        return advertising.build_payload([advertising.local_name(self.name, complete=True)])

    def _on_connection(self, connection: Connection) -> None:
        self.connected.set()
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, _reason: int) -> None:
        # Until it has joined a network, the firmware stays in provisioning mode.
        succeeded = bool(self.notified) and self.notified[-1][0] == CustomState.CONNECTED
        if not succeeded and not self.vanished.is_set():
            task = asyncio.get_running_loop().create_task(self._advertise())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _watch_long_writes(self) -> None:
        """Count Prepare Write parts; in VANISH_MID_WRITE, lose power part-way through."""
        assert self.device is not None
        server = self.device.gatt_server
        original = server.on_att_prepare_write_request

        def on_prepare_write(bearer: att.Bearer, request: att.ATT_Prepare_Write_Request) -> None:
            self.prepared_parts += 1
            self._bytes_seen += len(request.part_attribute_value)
            if (
                self.behaviour is Behaviour.VANISH_MID_WRITE
                and self._bytes_seen >= self.vanish_after_bytes
            ):
                self.vanish()
                return
            original(bearer, request)

        server.on_att_prepare_write_request = on_prepare_write  # type: ignore[method-assign]

    def vanish(self) -> None:
        if self.device is not None and not self.vanished.is_set():
            self.vanished.set()
            self.air.vanish(self.device)

    async def _on_write(self, _connection: Connection, value: bytes) -> None:
        self.raw_writes.append(bytes(value))
        self.written.set()
        if self.behaviour is Behaviour.ATT_ERROR:
            raise att.ATT_Error(self.att_error)
        if self.behaviour is Behaviour.VANISH_MID_WRITE:
            self.vanish()
            return
        if self.behaviour is Behaviour.SILENT:
            return
        # Answer after the write response has gone out, as firmware does.
        task = asyncio.get_running_loop().create_task(self._join_network(bytes(value)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _join_network(self, value: bytes) -> None:
        try:
            document = json.loads(value.decode("utf-8"))
            if not isinstance(document, dict):
                raise ValueError("not an object")
        except (UnicodeDecodeError, ValueError):
            await self._notify(CustomState.FAILED, CustomError.INVALID_PAYLOAD)
            return
        if document.get("v") != CUSTOM_PAYLOAD_VERSION:
            await self._notify(CustomState.FAILED, CustomError.UNSUPPORTED_VERSION)
            return
        self.payloads.append(document)
        await self._notify(CustomState.RECEIVED)
        await self._notify(CustomState.CONNECTING)
        ssid, password = document.get("ssid"), document.get("password")
        if ssid not in self.networks:
            await self._notify(CustomState.FAILED, CustomError.SSID_NOT_FOUND)
        elif self.networks[ssid] != password:
            await self._notify(CustomState.FAILED, CustomError.AUTH_FAILED)
        else:
            await self._notify(CustomState.CONNECTED)

    async def _notify(self, state: int, error: int = CustomError.NONE) -> None:
        assert self.device is not None and self._status is not None
        value = bytes([state, error])
        self._status.value = value
        self.notified.append(value)
        await self.device.notify_subscribers(self._status, value)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.device is not None and not self.vanished.is_set():
            await self.device.stop_advertising()
