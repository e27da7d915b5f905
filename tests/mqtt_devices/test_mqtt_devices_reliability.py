"""Restarts: of the hub (no QoS 1 message lost) and of the broker (the hub recovers alone)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from hub.db import tables
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.testing import RecommendedMosquitto
from tests.mqtt_devices.helpers import TOKEN, EventRecorder, device_client, topic

EVENTS = 600


async def recorded_seqs(hub) -> list[int]:
    await hub.devices.flush()
    async with hub.db.engine.connect() as connection:
        result = await connection.execute(
            sa.select(tables.device_events.c.seq).order_by(tables.device_events.c.seq)
        )
        return list(result.scalars())


async def publish_events(device, first: int, last: int) -> None:
    for seq in range(first, last + 1):
        await device.publish(topic("esp-1", "event"), {"type": "tick", "seq": seq})


async def hub_restart_loses_nothing(start_hub, mosquitto, tmp_path, **options) -> None:
    config_dir = tmp_path / "hub"
    first = await start_hub(mosquitto.url, config_dir=config_dir, **options)
    seen = EventRecorder(first.bus, "device_event")
    async with device_client(mosquitto.url) as device:
        await device.handshake("esp-1")
        # A stream of QoS 1 events; the hub stops in the middle of it...
        stream = asyncio.ensure_future(publish_events(device, 1, EVENTS // 2))
        await seen.wait_for(lambda data: data["seq"] >= EVENTS // 8)
        await first.stop()
        await stream
        # ...and the rest is published while no hub is there.
        await publish_events(device, EVENTS // 2 + 1, EVENTS)
        second = await start_hub(mosquitto.url, config_dir=config_dir, **options)
        again = EventRecorder(second.bus, "device_event")
        if EVENTS not in await recorded_seqs(second):
            await again.wait_for(lambda data: data["seq"] == EVENTS)
    assert await recorded_seqs(second) == list(range(1, EVENTS + 1))
    runtime = runtime_for(second)
    assert runtime is not None and runtime.connection is not None
    assert runtime.connection.connects == 1


async def test_hub_restart_with_qos1_messages_in_flight_loses_none(start_hub, mosquitto, tmp_path):
    await hub_restart_loses_nothing(start_hub, mosquitto, tmp_path)


async def test_hub_restart_with_mqtt5_session_expiry_loses_none(start_hub, mosquitto, tmp_path):
    await hub_restart_loses_nothing(start_hub, mosquitto, tmp_path, protocol="5")


async def test_broker_restart_is_survived_without_help(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url)
    runtime = runtime_for(hub)
    assert runtime is not None
    events = EventRecorder(hub.bus, "device_event")
    async with device_client(mosquitto.url) as device:
        await device.handshake("esp-1")
        await device.publish(topic("esp-1", "event"), {"type": "before", "seq": 1})
        await events.wait_for(lambda data: data["type"] == "before")
    mosquitto.restart()
    # Published before the hub is back: the broker keeps it in the hub's persistent session.
    async with device_client(mosquitto.url) as device:
        await device.publish(topic("esp-1", "event"), {"type": "while_reconnecting", "seq": 2})
        assert runtime.connection is not None
        await asyncio.wait_for(runtime.connection.wait_for_session(2), 10)
        await device.publish(topic("esp-1", "event"), {"type": "after", "seq": 3})
        await events.wait_for(lambda data: data["type"] == "after")
    assert [data["type"] for data in events.events] == ["before", "while_reconnecting", "after"]
    assert hub.integration_state("mqtt_devices") == "running"


async def test_broker_down_at_start_then_up(start_hub, mosquitto, hub_client):
    mosquitto.stop()
    hub = await start_hub(mosquitto.url, connected=False)
    runtime = runtime_for(hub)
    assert runtime is not None
    assert hub.integration_state("mqtt_devices") == "unavailable"
    client = await hub_client(hub, token=TOKEN)  # the health details need an owner
    async with client.get("/api/health") as response:
        health = await response.json()
    assert health["integrations"]["mqtt_devices"] == "unavailable"
    assert "MQTT broker" in health["details"]["mqtt_devices"]["error"]
    assert health["details"]["mqtt_devices"]["info"]["connection"]["state"] in (
        "backoff",
        "connecting",
    )
    mosquitto.start()
    assert runtime.connection is not None
    await asyncio.wait_for(runtime.connection.wait_for_session(1), 10)
    assert hub.integration_state("mqtt_devices") == "running"
    async with device_client(mosquitto.url) as device:
        assert (await device.handshake("esp-1"))["ok"] is True


async def test_recommended_mosquitto_conf_keeps_a_burst_past_the_default_queue(start_hub, tmp_path):
    """config/mosquitto.conf as shipped: 3000 QoS 1 events while the hub is away, all kept
    (Mosquitto's default queue of 1000 would drop two thirds of them)."""
    broker = RecommendedMosquitto(tmp_path / "broker")
    broker.start()
    try:
        config_dir = tmp_path / "hub"
        first = await start_hub(broker.url, config_dir=config_dir)
        async with device_client(broker.url) as device:
            await device.handshake("esp-1")
            await first.stop()
            await publish_events(device, 1, 3000)
        second = await start_hub(broker.url, config_dir=config_dir)
        events = EventRecorder(second.bus, "device_event")
        if 3000 not in await recorded_seqs(second):
            await events.wait_for(lambda data: data["seq"] == 3000)
        assert await recorded_seqs(second) == list(range(1, 3001))
    finally:
        broker.stop()
