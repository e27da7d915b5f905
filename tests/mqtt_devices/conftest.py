"""Fixtures: a hub with mqtt_devices on the test Mosquitto, and device clients."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hub.testing import static_auth
from plugins.mqtt_devices import runtime_for
from tests.mqtt_devices.helpers import STATION, TOKEN


def hub_config(broker: str, **mqtt: Any) -> dict[str, Any]:
    core = mqtt.pop("hub", {})
    return {
        "hub": {"station_id": STATION, **core},
        "static_auth": {"users": {TOKEN: "owner"}},
        "mqtt_devices": {
            "broker": broker,
            "reconnect": {"initial": 0.05, "maximum": 0.5, "jitter": 0.1},
            **mqtt,
        },
    }


@pytest.fixture
def start_hub(hub_factory):
    """``await start_hub(broker_url, **mqtt_devices_options)`` → a running hub, connected."""

    async def start(broker: str, *, config_dir=None, connected: bool = True, **mqtt: Any):
        hub = await hub_factory(
            copy.deepcopy(hub_config(broker, **mqtt)),
            config_dir=config_dir,
            integrations={"static_auth": static_auth},
        )
        runtime = runtime_for(hub)
        assert runtime is not None, hub.integrations["mqtt_devices"].error
        if connected:
            assert runtime.connection is not None
            await runtime.connection.wait_for_session(1)
        return hub

    return start
