"""A real hub for the portal's browser tests: auth, MQTT devices on a real Mosquitto, BLE
provisioning on a bumble virtual radio, and the frontend; plus the simulator's fleet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.core import Hub
from hub.testing.mosquitto import MosquittoBroker
from hub.testing.pytest_plugin import write_config
from plugins.ble_provisioning.testing.radio import VirtualAir
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.config import parse_broker_url
from plugins.mqtt_devices.simulator import Fleet, FleetOptions
from tests.frontend import panel_integration

STATION = "portal-station"


@dataclass
class PortalHub:
    hub: Hub
    broker: MosquittoBroker
    air: VirtualAir

    @property
    def url(self) -> str:
        return self.hub.http_url


def config(
    broker_url: str, hci: str, auth: dict[str, Any] | None = None, **mqtt: Any
) -> dict[str, Any]:
    return {
        "hub": {"station_id": STATION, "history": {"flush_interval": 0.1}},
        "auth": auth or {},
        "mqtt_devices": {
            "broker": broker_url,
            # The test broker has no dynamic security plugin: devices share its account.
            "device_identities": "off",
            "reconnect": {"initial": 0.05, "maximum": 0.5, "jitter": 0.1},
            **mqtt,
        },
        "ble_provisioning": {
            "hci": hci,
            "broker_url": "mqtt://192.168.50.10:1883",
            "connect_timeout": 3,
            "answer_timeout": 5,
        },
        # Unclaimed and pointed at nothing that answers: its page shows the state.
        "cloud_link": {"url": "ws://127.0.0.1:9/cloud"},
        # No gateway answers either: the objects list and create work from the hub's table.
        "iot_gateway": {"base_url": "http://127.0.0.1:9/", "app_id": "portal-test"},
        "frontend": {},
        # A third-party integration that adds a portal page (hub_frontend_panels).
        "greenhouse": {},
    }


@asynccontextmanager
async def portal_hub(
    directory: Path, auth: dict[str, Any] | None = None, **mqtt: Any
) -> AsyncIterator[PortalHub]:
    broker = MosquittoBroker(directory / "mosquitto")
    broker.start()
    air = VirtualAir()
    hub: Hub | None = None
    try:
        endpoint = await air.serve_hci()
        write_config(directory / "config", config(broker.url, endpoint.spec, auth, **mqtt))
        hub = Hub(directory / "config", extra_integrations={"greenhouse": panel_integration})
        await hub.start()
        runtime = runtime_for(hub)
        assert runtime is not None and runtime.connection is not None
        await runtime.connection.wait_for_session(1)
        yield PortalHub(hub, broker, air)
    finally:
        if hub is not None:
            await hub.stop()
        await air.close()
        broker.stop()


@asynccontextmanager
async def fleet(broker: MosquittoBroker, devices: int, **options: Any) -> AsyncIterator[Fleet]:
    """The simulator's devices running against ``broker`` until the block ends."""
    simulated = Fleet(
        parse_broker_url(broker.url),
        FleetOptions(station_id=STATION, devices=devices, **options),
    )
    running = asyncio.ensure_future(simulated.run())
    try:
        yield simulated
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
