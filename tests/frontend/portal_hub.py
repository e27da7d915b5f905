"""A real hub for the portal's browser tests: auth, MQTT devices on a real Mosquitto, BLE
provisioning on a bumble virtual radio, and the frontend; plus the simulator's fleet."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from hub.core import Hub
from hub.testing.mosquitto import MosquittoBroker
from hub.testing.pytest_plugin import write_config
from plugins.ble_provisioning.testing.radio import VirtualAir
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.config import parse_broker_url
from plugins.mqtt_devices.simulator import Fleet, FleetOptions
from tests.frontend import panel_integration
from tests.iot_gateway.gateway_double import APP_ID, APP_SECRET, Answer, GatewayDouble

STATION = "portal-station"


@dataclass
class PortalHub:
    hub: Hub
    broker: MosquittoBroker
    air: VirtualAir
    gateway: GatewayDouble

    def gateway_values(self, values: dict[str, float]) -> None:
        """What the gateway answers to /codes/values from now on."""
        body = {"data": [{"code": code, "value": value} for code, value in values.items()]}
        self.gateway.answers["/codes/values"] = Answer(
            body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )

    @property
    def url(self) -> str:
        return self.hub.http_url


def config(
    broker_url: str,
    hci: str,
    gateway_url: str,
    auth: dict[str, Any] | None = None,
    **mqtt: Any,
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
        # The IoT gateway double of tests/iot_gateway: IoT widgets poll it through the hub.
        "iot_gateway": {"base_url": gateway_url, "app_id": APP_ID, "app_secret": APP_SECRET},
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
    gateway = GatewayDouble()
    gateway.server = TestServer(gateway.app(), host="127.0.0.1")
    await gateway.server.start_server()
    hub: Hub | None = None
    try:
        endpoint = await air.serve_hci()
        settings = config(broker.url, endpoint.spec, gateway.base_url, auth, **mqtt)
        write_config(directory / "config", settings)
        hub = Hub(directory / "config", extra_integrations={"greenhouse": panel_integration})
        await hub.start()
        runtime = runtime_for(hub)
        assert runtime is not None and runtime.connection is not None
        await runtime.connection.wait_for_session(1)
        yield PortalHub(hub, broker, air, gateway)
    finally:
        if hub is not None:
            await hub.stop()
        gateway.release_all()
        await gateway.server.close()
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
