"""Every bad device message is dropped, counted under its reason, and the hub reads on."""

from __future__ import annotations

from collections import Counter
from typing import Any

from plugins.mqtt_devices import runtime_for
from tests.mqtt_devices.helpers import TOKEN, EventRecorder, device_client, topic

DEEP: dict[str, Any] = {"a": 1}
for _ in range(40):
    DEEP = {"n": DEEP}

# (topic, raw payload, drop reason)
BAD_MESSAGES: list[tuple[str, bytes, str]] = [
    (topic("good", "state", station="other"), b'{"t": 1}', "other_station"),
    (topic("good", "event", station="other"), b'{"type": "x"}', "other_station"),
    (topic("ghost", "state"), b'{"t": 1}', "unknown_device"),
    (topic("ghost", "event"), b'{"type": "x", "seq": 1}', "unknown_device"),
    (topic("ghost", "heartbeat"), b"{}", "unknown_device"),
    (topic("ghost", "command/result"), b'{"id": "a", "ok": true}', "unknown_device"),
    (topic("bad.id", "state"), b'{"t": 1}', "bad_external_id"),
    (topic("x" * 65, "state"), b'{"t": 1}', "bad_external_id"),
    (topic("d\u00e9v", "state"), b'{"t": 1}', "bad_external_id"),
    (topic("good", "state"), b'{"pad": "' + b"x" * 5000 + b'"}', "oversize"),
    (topic("good", "state"), b"{not json", "invalid_json"),
    (topic("good", "state"), b"", "invalid_json"),
    (topic("good", "state"), b'{"t": NaN}', "invalid_json"),
    (topic("good", "state"), b'{"t": -Infinity}', "invalid_json"),
    (topic("good", "state"), b'{"t": 1e400}', "invalid_json"),
    (topic("good", "state"), b'{"t": "\xff"}', "invalid_json"),
    (topic("good", "state"), b'{"t": "\\ud800"}', "invalid_json"),
    (topic("good", "state"), b'{"t": 1} trailing', "invalid_json"),
    (topic("good", "state"), b"[1, 2]", "not_object"),
    (topic("good", "state"), b'"hello"', "not_object"),
    (topic("good", "state"), b"42", "not_object"),
    (topic("good", "state"), b"null", "not_object"),
    (topic("good", "state"), str(DEEP).replace("'", '"').encode(), "too_deep"),
    (topic("good", "state"), b"[" * 1100 + b"]" * 1100, "too_deep"),
    (topic("good", "state"), b'{"externalId": "other-device", "t": 1}', "names_other_device"),
    (topic("good", "event"), b'{"type": "x", "deviceId": "0123abc"}', "names_other_device"),
    (topic("good", "event"), b'{"data": 1}', "invalid_payload"),
    (topic("good", "event"), b'{"type": "bad type!"}', "invalid_payload"),
    # Identifiers match in full: "$" alone would let a trailing newline through.
    (topic("good", "event"), b'{"type": "alarm\\n"}', "invalid_payload"),
    (topic("good", "event"), b'{"type": "x", "seq": -1}', "invalid_payload"),
    (topic("good", "event"), b'{"type": "x", "seq": true}', "invalid_payload"),
    (topic("good", "event"), b'{"type": "x", "seq": 1.5}', "invalid_payload"),
    (topic("good", "heartbeat"), b'{"rssi": "strong"}', "invalid_payload"),
    (topic("good", "heartbeat"), b'{"uptime": -3}', "invalid_payload"),
    (topic("good", "command/result"), b'{"id": "x"}', "invalid_payload"),
    (topic("good", "command/result"), b'{"id": "never-sent", "ok": true}', "unknown_command"),
    (topic("new-1", "handshake"), b'{"firmware": "1.0"}', "invalid_payload"),
    (
        topic("new-2", "handshake"),
        b'{"deviceType": "x", "externalId": "zzz"}',
        "names_other_device",
    ),
    (topic("new-3", "handshake"), b"[]", "not_object"),
    (topic("bad.id", "handshake"), b'{"deviceType": "x"}', "bad_external_id"),
    (topic("new-4", "handshake", station="other"), b'{"deviceType": "x"}', "other_station"),
]


async def test_every_bad_message_is_dropped_counted_and_the_loop_goes_on(
    start_hub, mosquitto, hub_client
):
    hub = await start_hub(mosquitto.url, max_payload_bytes=4096)
    states = EventRecorder(hub.bus, "device_state_changed")
    events = EventRecorder(hub.bus, "device_event")
    async with device_client(mosquitto.url) as device:
        await device.handshake("good")
        await device.subscribe(topic("+", "handshake/ack"))
        for name, payload, _reason in BAD_MESSAGES:
            await device.publish(name, payload)
        # Messages from one client arrive in order, so once this lands all the bad ones did.
        await device.publish(topic("good", "state"), {"sentinel": True})
        await states.wait_for(lambda data: data["state"] == {"sentinel": True})
        refusals: dict[str, Any] = {}
        while len(refusals) < 2:
            name, body = await device.next_json()
            refusals[name] = body

    expected = Counter(reason for _topic, _payload, reason in BAD_MESSAGES)
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.drops.counts == dict(expected)
    # Nothing bad touched the device, and no message created one.
    assert [data["state"] for data in states.events] == [{"sentinel": True}]
    assert events.events == []
    assert [device.external_id for device in hub.devices.all()] == ["good"]
    # Bad handshakes from valid ids are told why.
    assert refusals[topic("new-1", "handshake/ack")]["ok"] is False
    assert "deviceType" in refusals[topic("new-1", "handshake/ack")]["error"]
    assert "zzz" in refusals[topic("new-2", "handshake/ack")]["error"]

    client = await hub_client(hub)
    # The counters are part of the health details, which an owner may read.
    owner = await hub_client(hub, token=TOKEN)
    async with owner.get("/api/health") as response:
        health = await response.json()
    assert health["integrations"]["mqtt_devices"] == "running"
    dropped = health["details"]["mqtt_devices"]["info"]["dropped"]
    assert dropped["total"] == len(BAD_MESSAGES)
    assert dropped["too_deep"] == 2 and dropped["invalid_json"] == 8
    # The detailed view (who sent what) needs a login.
    async with client.get("/api/mqtt/status") as response:
        assert response.status == 401


async def test_status_route_explains_the_last_drop(start_hub, mosquitto, hub_client):
    hub = await start_hub(mosquitto.url)
    states = EventRecorder(hub.bus, "device_state_changed")
    async with device_client(mosquitto.url) as device:
        await device.handshake("good")
        await device.publish(topic("good", "state"), b'{"t": NaN}')
        await device.publish(topic("good", "state"), {"t": 1})
        await states.wait_for(lambda data: data["state"] == {"t": 1})
    client = await hub_client(hub, token="t")
    async with client.get("/api/mqtt/status") as response:
        assert response.status == 200
        status = await response.json()
    last = status["dropped"]["last"]["invalid_json"]
    assert last["topic"] == topic("good", "state")
    assert "NaN" in last["detail"]
    assert "station/+/device/+/state" in status["subscriptions"]


async def test_new_devices_can_be_refused(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url, accept_new_devices=False)
    async with device_client(mosquitto.url) as device:
        ack = await device.handshake("stranger")
    assert ack["ok"] is False and "provisioned" in ack["error"]
    assert hub.devices.all() == []
    # A device the hub expects (e.g. provisioned over BLE) may handshake.
    await hub.devices.expect_device("known", token_digest="0" * 64)
    async with device_client(mosquitto.url) as device:
        ack = await device.handshake("known")
    assert ack["ok"] is True
    assert hub.devices.by_external_id("known").handshaken


async def test_pending_device_cannot_report_before_its_handshake(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url)
    await hub.devices.expect_device("prov", token_digest="1" * 64)
    states = EventRecorder(hub.bus, "device_state_changed")
    async with device_client(mosquitto.url) as device:
        await device.publish(topic("prov", "state"), {"early": True})
        await device.handshake("prov")
        await device.publish(topic("prov", "state"), {"late": True})
        await states.wait_for(lambda data: data["state"] == {"late": True})
    assert [data["state"] for data in states.events] == [{"late": True}]
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.drops.counts == {"unknown_device": 1}
