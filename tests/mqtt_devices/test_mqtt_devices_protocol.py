"""The device protocol round trips against a real Mosquitto: handshake, state, event, heartbeat, commands."""

from __future__ import annotations

import socket
import time
from typing import cast

import orjson
import sqlalchemy as sa

from hub.db import tables
from plugins.mqtt_devices import runtime_for
from tests.mqtt_devices.helpers import STATION, TOKEN, EventRecorder, device_client, topic


async def test_handshake_creates_the_device_and_acks(start_hub, mosquitto, hub_client):
    hub = await start_hub(mosquitto.url)
    registered = EventRecorder(hub.bus, "device_registered")
    before = time.time() * 1000
    async with device_client(mosquitto.url) as device:
        ack = await device.handshake("esp-1", device_type="esp32-relay")
    assert ack["ok"] is True
    assert before - 1000 <= ack["serverTime"] <= time.time() * 1000 + 1000
    created = hub.devices.by_external_id("esp-1")
    assert created is not None and ack["deviceId"] == created.id
    assert (created.type, created.firmware, created.capabilities) == (
        "esp32-relay",
        "1.2.3",
        ["relay"],
    )
    assert created.transport == "mqtt" and created.online
    await registered.wait_for(lambda data: data["device"]["externalId"] == "esp-1")
    client = await hub_client(hub, token=TOKEN)
    async with client.get(f"/api/devices/{created.id}") as response:
        assert response.status == 200
        body = await response.json()
    assert body["externalId"] == "esp-1" and body["type"] == "esp32-relay"


async def test_second_handshake_keeps_the_device_id(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url)
    async with device_client(mosquitto.url) as device:
        first = await device.handshake("esp-1")
        second = await device.handshake("esp-1", device_type="esp32-v2")
    assert first["deviceId"] == second["deviceId"]
    assert hub.devices.by_external_id("esp-1").type == "esp32-v2"
    assert len(hub.devices.all()) == 1


async def test_state_reaches_memory_events_and_history(start_hub, mosquitto, hub_client):
    hub = await start_hub(mosquitto.url)
    changes = EventRecorder(hub.bus, "device_state_changed")
    async with device_client(mosquitto.url) as device:
        await device.handshake("esp-1")
        await device.publish(topic("esp-1", "state"), {"temperature": 20.5})
        await device.publish(topic("esp-1", "state"), {"temperature": 21.0})
        last = await changes.wait_for(lambda data: data["state"] == {"temperature": 21.0})
    assert last["oldState"] == {"temperature": 20.5}
    device_id = hub.devices.by_external_id("esp-1").id
    client = await hub_client(hub, token=TOKEN)
    async with client.get(f"/api/devices/{device_id}/history") as response:
        history = (await response.json())["items"]
    assert [item["state"] for item in history] == [{"temperature": 21.0}, {"temperature": 20.5}]


async def test_event_is_recorded_once_per_seq(start_hub, mosquitto, hub_client):
    hub = await start_hub(mosquitto.url)
    events = EventRecorder(hub.bus, "device_event")
    async with device_client(mosquitto.url) as device:
        await device.handshake("esp-1")
        for seq in (1, 2, 1, 3):
            await device.publish(
                topic("esp-1", "event"), {"type": "button_pressed", "data": {"n": seq}, "seq": seq}
            )
        await device.publish(topic("esp-1", "event"), {"type": "no_seq"})
        await events.wait_for(lambda data: data["type"] == "no_seq")
    assert [data["seq"] for data in events.events] == [1, 2, 3, None]
    assert events.events[0]["data"] == {"n": 1}
    await hub.devices.flush()
    async with hub.db.engine.connect() as connection:
        rows = (await connection.execute(sa.select(tables.device_events.c.seq))).scalars().all()
    assert sorted(rows, key=lambda seq: seq or 0) == [None, 1, 2, 3]
    client = await hub_client(hub, token=TOKEN)  # the health details need an owner
    async with client.get("/api/health") as response:
        info = (await response.json())["details"]["mqtt_devices"]["info"]
    assert info["dropped"]["duplicate_event"] == 1
    assert info["handled"]["event"] == 4


async def test_heartbeat_keeps_presence_and_silence_turns_it_offline(start_hub, mosquitto):
    hub = await start_hub(
        mosquitto.url, hub={"presence": {"heartbeat_interval": 0.2, "missed_heartbeats": 2}}
    )
    presence = EventRecorder(hub.bus, "device_presence_changed")
    async with device_client(mosquitto.url) as device:
        await device.handshake("esp-1")
        # No heartbeat: offline after two missed intervals.
        await presence.wait_for(lambda data: data["online"] is False)
        mark = len(presence.events)
        await device.publish(topic("esp-1", "heartbeat"), {"uptime": 12.5, "rssi": -61})
        await presence.wait_for(lambda data: data["online"] is True, after=mark)
    assert hub.devices.by_external_id("esp-1").rssi == -61
    mark = len(presence.events)
    await presence.wait_for(lambda data: data["online"] is False, after=mark)
    assert hub.devices.by_external_id("esp-1").online is False
    assert [data["online"] for data in presence.events] == [True, False, True, False]


async def test_command_round_trip_through_the_http_api(start_hub, mosquitto, hub_client):
    hub = await start_hub(mosquitto.url)
    statuses = EventRecorder(hub.bus, "command_status_changed")
    client = await hub_client(hub, token=TOKEN)
    async with device_client(mosquitto.url) as device:
        ack = await device.handshake("esp-1")
        await device.subscribe(topic("esp-1", "command"))
        async with client.post(
            f"/api/devices/{ack['deviceId']}/commands",
            json={"command": "set_relay", "params": {"on": True}},
        ) as response:
            assert response.status == 202
            command_id = (await response.json())["commandId"]
        name, payload, qos, _retain = await device.next_message()
        assert name == topic("esp-1", "command") and qos == 1
        assert orjson.loads(payload) == {
            "id": command_id,
            "command": "set_relay",
            "params": {"on": True},
        }
        await device.publish(
            topic("esp-1", "command/result"), {"id": command_id, "ok": True, "result": {"on": True}}
        )
        done = await statuses.wait_for(lambda data: data["status"] == "succeeded")
    assert done == {
        "commandId": command_id,
        "deviceId": ack["deviceId"],
        "command": "set_relay",
        "status": "succeeded",
        "result": {"on": True},
        "error": None,
    }
    async with client.get(f"/api/commands/{command_id}") as response:
        assert (await response.json())["status"] == "succeeded"
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.health()["commandsSent"] == 1


async def test_failed_command_result_and_factory_reset(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url)
    statuses = EventRecorder(hub.bus, "command_status_changed")
    async with device_client(mosquitto.url) as device:
        ack = await device.handshake("esp-1")
        await device.subscribe(topic("esp-1", "command"))
        command = await hub.devices.send_command(
            ack["deviceId"], "factory_reset", {}, source="test"
        )
        assert command.status == "sent"
        _name, body = await device.next_json()
        assert body == {"id": command.id, "command": "factory_reset", "params": {}}
        await device.publish(
            topic("esp-1", "command/result"), {"id": command.id, "ok": False, "error": "busy"}
        )
        failed = await statuses.wait_for(lambda data: data["status"] == "failed")
    assert failed["error"] == "busy"


async def test_command_while_the_broker_is_gone_fails_clearly(start_hub, mosquitto, hub_client):
    hub = await start_hub(mosquitto.url)
    async with device_client(mosquitto.url) as device:
        ack = await device.handshake("esp-1")
    mosquitto.stop()
    client = await hub_client(hub, token=TOKEN)
    async with client.post(
        f"/api/devices/{ack['deviceId']}/commands", json={"command": "ping"}
    ) as response:
        assert response.status == 503
        error = (await response.json())["error"]
    assert error["code"] == "delivery_failed"
    assert "MQTT broker" in error["message"]


async def test_hub_status_is_retained_online_then_offline(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url)
    status_topic = f"station/{STATION}/hub/status"
    async with device_client(mosquitto.url) as watcher:
        await watcher.subscribe(status_topic)
        name, payload, _qos, retain = await watcher.next_message()
        assert (name, payload, retain) == (status_topic, b"online", True)
        await hub.stop()
        name, payload, _qos, _retain = await watcher.next_message()
        assert (name, payload) == (status_topic, b"offline")
    async with device_client(mosquitto.url) as late:
        await late.subscribe(status_topic)
        _name, payload, _qos, retain = await late.next_message()
        assert (payload, retain) == (b"offline", True)


async def test_last_will_says_offline_when_the_hub_vanishes(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url, keepalive=5)
    status_topic = f"station/{STATION}/hub/status"
    async with device_client(mosquitto.url) as watcher:
        await watcher.subscribe(status_topic)
        assert (await watcher.next_message())[1] == b"online"
        # Cut the TCP connection without an MQTT DISCONNECT, as a crash or power loss would.
        runtime = runtime_for(hub)
        assert runtime is not None and runtime.connection is not None
        client = runtime.connection._client
        assert client is not None
        sock = client._client.socket()
        assert sock is not None
        # cast: a socket, or the hub's ChunkedSocket that forwards shutdown() to one.
        cast(socket.socket, sock).shutdown(socket.SHUT_RDWR)
        name, payload, _qos, _retain = await watcher.next_message()
        assert (name, payload) == (status_topic, b"offline")
        # ...and the hub comes back on its own.
        name, payload, _qos, _retain = await watcher.next_message()
        assert (name, payload) == (status_topic, b"online")
