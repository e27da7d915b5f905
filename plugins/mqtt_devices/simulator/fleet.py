"""N simulated devices over K MQTT connections (one per device by default, as real ESP32s).

A ``Link`` is one connection carrying a group of devices: it subscribes to their command
and handshake-ack topics, hands incoming messages to the right device, and reconnects on
its own when the broker goes away.

With ``identities=True`` the fleet's broker account must hold the dynsec admin role (the
hub's does): before the devices start, each gets its own broker account exactly as BLE
provisioning would give it (``DeviceIdentities.issue``), and each connects alone, as
itself, with its external id as client id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Any

import aiomqtt

from ..config import BrokerAddress
from ..dynsec import DynsecAdmin
from ..identities import DeviceIdentities
from .device import SimulatedDevice

_LOGGER = logging.getLogger(__name__)

RECONNECT_DELAY = 1.0


@dataclass(frozen=True, slots=True)
class FleetOptions:
    station_id: str
    devices: int
    rate: float = 1.0
    heartbeat_interval: float = 10.0
    event_probability: float = 0.05
    connections: int | None = None
    prefix: str = "sim"
    device_type: str = "esp32-sim"
    state_qos: int = 1
    seed: int | None = None
    # Give each device its own broker account (needs an admin account; see the module doc).
    identities: bool = False


class NotConnectedError(ConnectionError):
    pass


class Link:
    def __init__(
        self, address: BrokerAddress, client_id: str, devices: list[SimulatedDevice]
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.devices = {device.external_id: device for device in devices}
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        client = self._client
        if client is None:
            raise NotConnectedError("the simulator is not connected to the broker")
        await client.publish(topic, payload, qos=qos)
        # aiomqtt waits for the PUBACK with asyncio.wait_for, which on Python 3.11 returns
        # the result and drops a cancellation that arrives with it: a link or device being
        # stopped then ran on, and whoever awaited its end hung. Raise it here.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError

    async def run(self) -> None:
        tasks: list[asyncio.Task[None]] = []
        try:
            while True:
                try:
                    await self._session(tasks)
                except aiomqtt.MqttError as error:
                    _LOGGER.warning("Simulator link %s: %s; reconnecting", self.client_id, error)
                finally:
                    self._client = None
                    self.connected.clear()
                await asyncio.sleep(RECONNECT_DELAY)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _session(self, tasks: list[asyncio.Task[None]]) -> None:
        async with aiomqtt.Client(
            self.address.host,
            self.address.port,
            username=self.address.username,
            password=self.address.password,
            identifier=self.client_id,
            tls_context=_tls(self.address),
        ) as client:
            filters = [
                (topic, 1) for device in self.devices.values() for topic in device.subscriptions
            ]
            for start in range(0, len(filters), 100):
                await client.subscribe(filters[start : start + 100])
            self._client = client
            self.connected.set()
            if not tasks:
                tasks.extend(
                    asyncio.ensure_future(device.run(self.publish))
                    for device in self.devices.values()
                )
            async for message in client.messages:
                await self._route(message)

    async def _route(self, message: aiomqtt.Message) -> None:
        # station/S/device/D/<leaf>
        levels = message.topic.value.split("/", 4)
        device = self.devices.get(levels[3]) if len(levels) == 5 else None
        if device is not None and isinstance(message.payload, bytes | bytearray):
            await device.on_message(levels[4], bytes(message.payload), self.publish)


def _tls(address: BrokerAddress) -> Any:
    if not address.tls:
        return None
    import ssl

    return ssl.create_default_context()


class Fleet:
    def __init__(self, address: BrokerAddress, options: FleetOptions) -> None:
        rng = random.Random(options.seed)
        self.options = options
        self.devices = [
            SimulatedDevice(
                station_id=options.station_id,
                external_id=f"{options.prefix}-{index:04d}",
                device_type=options.device_type,
                rate=options.rate,
                heartbeat_interval=options.heartbeat_interval,
                event_probability=options.event_probability,
                state_qos=options.state_qos,
                rng=random.Random(rng.random()),
            )
            for index in range(options.devices)
        ]
        self.address = address
        self.links: list[Link] = []
        if not options.identities:
            groups = max(1, min(options.connections or options.devices, options.devices))
            self.links = [
                Link(
                    address,
                    f"sim-{options.station_id}-{options.prefix}-{group}",
                    self.devices[group::groups],
                )
                for group in range(groups)
            ]

    async def issue_identities(self) -> None:
        """One broker account per device, made with the fleet's (admin) account."""
        identities = DeviceIdentities(
            DynsecAdmin(self.address, client_id_prefix=f"sim-{self.options.station_id}-dynsec"),
            self.options.station_id,
            hub_username=self.address.username,
            # The hub's default client id (mqtt_devices.client_id may differ).
            hub_client_id=f"station-hub-{self.options.station_id}",
        )
        self.links = []
        for device in self.devices:
            credentials = await identities.issue(device.external_id)
            own = BrokerAddress(
                self.address.host,
                self.address.port,
                self.address.tls,
                credentials.username,
                credentials.password,
            )
            self.links.append(Link(own, credentials.client_id, [device]))

    async def run(self) -> None:
        if self.options.identities and not self.links:
            await self.issue_identities()
        await asyncio.gather(*(link.run() for link in self.links))

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for device in self.devices:
            for name in device.stats.__slots__:
                totals[name] = totals.get(name, 0) + getattr(device.stats, name)
        totals["handshaken"] = sum(1 for device in self.devices if device.device_id)
        return totals
