"""A whole station for the real Home Assistant clients to talk to.

The real ``auth`` integration (so the clients use real long-lived tokens: an API token
``shub_...`` or a JWT), ``mqtt_devices`` on a real Mosquitto, and a device on that broker
speaking the MQTT device protocol: what the clients see starts as an MQTT publish, and what they
command ends as one.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from hub.core import Hub
from hub.events import DEVICE_STATE_CHANGED
from hub.testing.mosquitto import MosquittoBroker
from plugins.mqtt_devices import runtime_for
from tests.auth.conftest import Cast, auth_config, make_cast
from tests.mqtt_devices.helpers import DeviceClient, EventRecorder, device_client, topic

STATION = "st1"
LAMP = "lamp-1"
LAMP_ENTITY = "station_hub.lamp_1"


@dataclass
class Station:
    hub: Hub
    cast: Cast
    lamp: DeviceClient
    states: EventRecorder

    async def report(self, state: dict[str, Any]) -> None:
        """The lamp publishes its state; returns once the hub has taken it in."""
        seen = len(self.states.events)
        await self.lamp.publish(topic(LAMP, "state"), state)
        await self.states.wait_for(lambda data: data["state"] == state, after=seen)

    async def next_command(self) -> dict[str, Any]:
        """The next command the hub published to the lamp."""
        while True:
            name, body = await self.lamp.next_json()
            if name == topic(LAMP, "command"):
                return body


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets in the test runner's environment must not leak into these hubs."""
    for name in ("JWT_SECRET", "HUB_JWT_SECRET", "AGENT_TOKEN", "HUB_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def station(hub_factory, mosquitto: MosquittoBroker) -> AsyncIterator[Station]:
    config = {
        "hub": {"station_id": STATION, "name": "Station A"},
        "auth": auth_config(),
        "mqtt_devices": {
            "broker": mosquitto.url,
            # The test broker has no dynamic security plugin (docs/security.md).
            "device_identities": "off",
            "reconnect": {"initial": 0.05, "maximum": 0.5, "jitter": 0.1},
        },
    }
    hub = await hub_factory(copy.deepcopy(config))
    runtime = runtime_for(hub)
    assert runtime is not None and runtime.connection is not None, hub.health()
    await runtime.connection.wait_for_session(1)
    cast = await make_cast(hub)
    states = EventRecorder(hub.bus, DEVICE_STATE_CHANGED)
    async with device_client(mosquitto.url, client_id=LAMP) as lamp:
        ack = await lamp.handshake(LAMP, device_type="lamp")
        assert ack["ok"] is True, ack
        await lamp.subscribe(topic(LAMP, "command"))
        station = Station(hub, cast, lamp, states)
        await station.report({"on": False, "brightness": 10})
        yield station
    states.unsubscribe()
