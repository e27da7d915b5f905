"""hub.testing.publish_and_wait: publish as a device, return once the hub handled it."""

from __future__ import annotations

from typing import cast

import pytest

from hub import events
from hub.testing import publish_and_wait
from plugins.mqtt_devices import runtime_for

STATION = "st-testing"


def device_topic(external_id: str, leaf: str) -> str:
    return f"station/{STATION}/device/{external_id}/{leaf}"


@pytest.fixture
async def connected_hub(hub_factory, mosquitto):
    hub = await hub_factory(
        {
            "hub": {"station_id": STATION},
            "mqtt_devices": {"broker": mosquitto.url, "device_identities": "off"},
        }
    )
    runtime = runtime_for(hub)
    assert runtime is not None and runtime.connection is not None
    await runtime.connection.wait_for_session(1)
    return hub


async def test_a_handshake_then_a_state_are_handled_when_it_returns(connected_hub, mosquitto):
    hub = connected_hub
    registered = await publish_and_wait(
        hub,
        mosquitto.url,
        device_topic("lamp-1", "handshake"),
        {"deviceType": "lamp", "firmware": "1.0"},
        until=cast(str, events.DEVICE_REGISTERED),  # an EventType is a str at runtime
    )
    device = hub.devices.by_external_id("lamp-1")
    assert device is not None
    assert registered["device"]["id"] == device.id
    await publish_and_wait(
        hub,
        mosquitto.url,
        device_topic("lamp-1", "state"),
        {"on": True},
        until=cast(str, events.DEVICE_STATE_CHANGED),
        match=lambda data: data.get("deviceId") == device.id,
    )
    assert hub.devices.get(device.id).state == {"on": True}


async def test_a_message_the_hub_drops_times_out(connected_hub, mosquitto):
    with pytest.raises(TimeoutError):
        await publish_and_wait(
            connected_hub,
            mosquitto.url,
            device_topic("nobody", "state"),  # an unknown device: dropped and counted
            {"on": True},
            until=cast(str, events.DEVICE_STATE_CHANGED),
            within=0.5,
        )
