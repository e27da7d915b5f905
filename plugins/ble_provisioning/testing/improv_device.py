"""A simulated Improv Wi-Fi device (as ESPHome or WLED firmware behave over BLE).

Implements the five characteristics of the Improv BLE spec, the RPC framing with its
checksum (reassembling a command split over several writes, as the spec asks), the
"send Wi-Fi settings", "identify" and "device info" commands, optional authorization by
button press, and the 0x4677 service data in its advertisement.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bumble import gatt
from bumble.device import Connection, Device

from plugins.ble_provisioning import advertising
from plugins.ble_provisioning.const import (
    IMPROV_CAPABILITIES_UUID,
    IMPROV_CURRENT_STATE_UUID,
    IMPROV_ERROR_STATE_UUID,
    IMPROV_RPC_COMMAND_UUID,
    IMPROV_RPC_RESULT_UUID,
    IMPROV_SERVICE_DATA_UUID,
    IMPROV_SERVICE_UUID,
)
from plugins.ble_provisioning.improv import (
    ImprovCapability,
    ImprovCommand,
    ImprovError,
    ImprovState,
    InvalidFrame,
    ServiceData,
    checksum,
    decode_strings,
    encode_frame,
    encode_strings,
)
from plugins.ble_provisioning.testing.radio import VirtualAir

Properties = gatt.Characteristic.Properties


@dataclass
class SimulatedImprovDevice:
    """Create with ``await SimulatedImprovDevice.start(air, ...)``."""

    air: VirtualAir
    address: str
    name: str
    networks: dict[str, str]
    require_authorization: bool = False
    capabilities: int = ImprovCapability.IDENTIFY | ImprovCapability.DEVICE_INFO
    redirect_url: str | None = "http://esp-improv.local"
    device: Device | None = None
    state: int = ImprovState.AUTHORIZED
    error: int = ImprovError.NONE
    identified: int = 0
    provisioned_with: tuple[str, str] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    identify_received: asyncio.Event = field(default_factory=asyncio.Event)
    _buffer: bytearray = field(default_factory=bytearray)
    _chars: dict[str, gatt.Characteristic[bytes]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def start(
        cls, air: VirtualAir, address: str, name: str = "Improv Light", **options: Any
    ) -> SimulatedImprovDevice:
        simulated = cls(air, address, name, options.pop("networks", {}), **options)
        if simulated.require_authorization:
            simulated.state = ImprovState.AUTHORIZATION_REQUIRED
        await simulated._power_on()
        return simulated

    async def _power_on(self) -> None:
        self.device = await self.air.device(self.name, self.address)
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)

        def readable(uuid: str, properties: Properties, value: bytes) -> gatt.Characteristic[bytes]:
            characteristic = gatt.Characteristic(
                uuid, properties, gatt.Characteristic.READABLE, value
            )
            self._chars[uuid] = characteristic
            return characteristic

        command: gatt.Characteristic[bytes] = gatt.Characteristic(
            IMPROV_RPC_COMMAND_UUID,
            Properties.WRITE | Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_command_bytes),
        )
        service = gatt.Service(
            IMPROV_SERVICE_UUID,
            [
                readable(
                    IMPROV_CURRENT_STATE_UUID,
                    Properties.READ | Properties.NOTIFY,
                    bytes([self.state]),
                ),
                readable(
                    IMPROV_ERROR_STATE_UUID,
                    Properties.READ | Properties.NOTIFY,
                    bytes([self.error]),
                ),
                command,
                readable(IMPROV_RPC_RESULT_UUID, Properties.READ | Properties.NOTIFY, b""),
                readable(IMPROV_CAPABILITIES_UUID, Properties.READ, bytes([self.capabilities])),
            ],
        )
        self.device.add_service(service)
        await self._advertise()

    def advertising_data(self) -> bytes:
        """Flags + service UUID + 0x4677 service data: 3 + 18 + 10 = 31 bytes (spec 2.0)."""
        return advertising.build_payload(
            [
                advertising.flags(),
                advertising.complete_service_uuids([IMPROV_SERVICE_UUID]),
                advertising.service_data(
                    IMPROV_SERVICE_DATA_UUID, ServiceData(self.state, self.capabilities).encode()
                ),
            ]
        )

    def scan_response_data(self) -> bytes:
        return advertising.build_payload([advertising.local_name(self.name, complete=True)])

    async def _advertise(self) -> None:
        assert self.device is not None
        await self.device.start_advertising(
            advertising_data=self.advertising_data(),
            scan_response_data=self.scan_response_data(),
            advertising_interval_min=20,
            advertising_interval_max=20,
        )

    def _on_connection(self, connection: Connection) -> None:
        self.connected.set()
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, _reason: int) -> None:
        # Firmware advertises again until it is provisioned; then Improv stops.
        if self.state != ImprovState.PROVISIONED:
            self._spawn(self._advertise())

    async def authorize(self) -> None:
        """The user pressed the button."""
        if self.state == ImprovState.AUTHORIZATION_REQUIRED:
            await self._set_state(ImprovState.AUTHORIZED)

    async def _on_command_bytes(self, _connection: Connection, value: bytes) -> None:
        # A command may arrive split over several writes; reassemble by its length byte.
        self._buffer += value
        while len(self._buffer) >= 2 and len(self._buffer) >= self._buffer[1] + 3:
            size = self._buffer[1] + 3
            frame, self._buffer = bytes(self._buffer[:size]), self._buffer[size:]
            self._spawn(self._handle_frame(frame))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_frame(self, frame: bytes) -> None:
        await self._set_error(ImprovError.NONE)
        if checksum(frame[:-1]) != frame[-1]:
            await self._set_error(ImprovError.INVALID_RPC)
            return
        command, data = frame[0], frame[2:-1]
        if command == ImprovCommand.WIFI_SETTINGS:
            await self._wifi_settings(data)
        elif command == ImprovCommand.IDENTIFY and self.capabilities & ImprovCapability.IDENTIFY:
            self.identified += 1
            self.identify_received.set()
        elif (
            command == ImprovCommand.DEVICE_INFO
            and self.capabilities & ImprovCapability.DEVICE_INFO
        ):
            await self._send_result(command, ["SimFirmware", "1.0.0", "ESP32-C3", self.name])
        else:
            await self._set_error(ImprovError.UNKNOWN_RPC)

    async def _wifi_settings(self, data: bytes) -> None:
        if self.state != ImprovState.AUTHORIZED:
            await self._set_error(ImprovError.NOT_AUTHORIZED)
            return
        try:
            ssid, password = decode_strings(data)[:2]
        except (InvalidFrame, ValueError):
            await self._set_error(ImprovError.INVALID_RPC)
            return
        await self._set_state(ImprovState.PROVISIONING)
        if self.networks.get(ssid) != password:
            await self._set_error(ImprovError.UNABLE_TO_CONNECT)
            await self._set_state(ImprovState.AUTHORIZED)
            return
        self.provisioned_with = (ssid, password)
        await self._set_state(ImprovState.PROVISIONED)
        await self._send_result(
            ImprovCommand.WIFI_SETTINGS, [self.redirect_url] if self.redirect_url else []
        )

    async def _send_result(self, command: int, values: list[str]) -> None:
        await self._update(IMPROV_RPC_RESULT_UUID, encode_frame(command, encode_strings(values)))

    async def _set_state(self, state: int) -> None:
        self.state = state
        await self._update(IMPROV_CURRENT_STATE_UUID, bytes([state]))
        if self.device is not None and not self.device.connections:
            await self._advertise()  # spec 2.0: the service data follows state changes

    async def _set_error(self, error: int) -> None:
        self.error = error
        await self._update(IMPROV_ERROR_STATE_UUID, bytes([error]))

    async def _update(self, uuid: str, value: bytes) -> None:
        assert self.device is not None
        characteristic = self._chars[uuid]
        characteristic.value = value
        await self.device.notify_subscribers(characteristic, value)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.device is not None:
            await self.device.stop_advertising()
