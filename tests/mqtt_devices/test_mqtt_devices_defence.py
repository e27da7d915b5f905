"""The hub's own defences, whatever the broker enforces (issue #11 §1): retained device
messages are never applied, auto-registration is bounded, the embedded broker stays on
loopback, and topics never reach a log line raw."""

from __future__ import annotations

import logging

from hub.testing import static_auth
from hub.testing.mosquitto import free_port
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.admission import NewDeviceGate
from plugins.mqtt_devices.drops import DropCounter
from tests.mqtt_devices.conftest import hub_config
from tests.mqtt_devices.helpers import EventRecorder, device_client, topic


async def test_retained_device_messages_are_dropped_counted_and_cleared(start_hub, mosquitto):
    # Left on the broker before the hub subscribes: a forged handshake, state and result.
    async with device_client(mosquitto.url, "forger") as forger:
        await forger.publish(topic("ghost", "handshake"), {"deviceType": "evil"}, retain=True)
        await forger.publish(topic("ghost", "state"), {"door": "open"}, retain=True)
        await forger.publish(topic("ghost", "command/result"), {"id": "x", "ok": True}, retain=True)
    async with device_client(mosquitto.url, "watcher") as watcher:
        await watcher.subscribe(topic("ghost", "state"))
        name, payload, _qos, retained = await watcher.next_message()
        assert retained and payload == b'{"door":"open"}'
        hub = await start_hub(mosquitto.url)
        runtime = runtime_for(hub)
        assert runtime is not None
        # The hub clears what it refused: the watcher sees the empty retained message go by.
        name, payload, _qos, _retained = await watcher.next_message()
        assert name == topic("ghost", "state") and payload == b""
    async with device_client(mosquitto.url, "live") as live:
        # Handled after the replayed messages (same subscription stream, later).
        assert (await live.handshake("live-1"))["ok"] is True
    assert hub.devices.by_external_id("ghost") is None
    assert runtime.drops.counts.get("retained") == 3
    assert runtime.drops.counts.get("invalid_json") is None  # the clearing echo is not a drop
    # Nothing is stored any more: a new subscriber's first message is a live one.
    async with device_client(mosquitto.url, "late") as late:
        await late.subscribe(topic("ghost", "handshake"))
        await late.publish(topic("ghost", "handshake"), b"live")
        _name, payload, _qos, retained = await late.next_message()
    assert payload == b"live" and not retained


async def test_a_retained_message_replayed_to_a_restarted_hub_is_refused(
    start_hub, mosquitto, tmp_path
):
    """A device's retained state reaches the hub live once (fresh), never again as a replay."""
    hub = await start_hub(mosquitto.url, config_dir=tmp_path)
    states = EventRecorder(hub.bus, "device_state_changed")
    async with device_client(mosquitto.url, "dev") as device:
        await device.handshake("dev")
        await device.publish(topic("dev", "state"), {"v": 1}, retain=True)
        await states.wait_for(lambda data: data["state"] == {"v": 1})
        await device.publish(topic("dev", "state"), {"v": 2})
        await states.wait_for(lambda data: data["state"] == {"v": 2})
    await hub.stop()
    hub = await start_hub(mosquitto.url, config_dir=tmp_path)
    runtime = runtime_for(hub)
    assert runtime is not None
    async with device_client(mosquitto.url, "dev") as device:
        await device.handshake("dev")  # after the replay on the same stream
    assert hub.devices.by_external_id("dev").state == {"v": 2}
    assert runtime.drops.counts.get("retained") == 1


async def test_max_devices_refuses_new_devices_and_counts(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url, max_devices=2)
    runtime = runtime_for(hub)
    assert runtime is not None
    async with device_client(mosquitto.url) as device:
        assert (await device.handshake("d-1"))["ok"] is True
        assert (await device.handshake("d-2"))["ok"] is True
        refused = await device.handshake("d-3")
        again = await device.handshake("d-1")  # a known device is never limited
    assert refused["ok"] is False and "max_devices" in refused["error"]
    assert again["ok"] is True
    assert hub.devices.by_external_id("d-3") is None
    assert runtime.drops.counts.get("device_limit") == 1
    assert runtime.health()["dropped"]["device_limit"] == 1


async def test_new_device_rate_is_limited_and_counted(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url, new_devices_per_minute=2)
    runtime = runtime_for(hub)
    assert runtime is not None
    async with device_client(mosquitto.url) as device:
        answers = [await device.handshake(f"n-{index}") for index in range(4)]
        again = await device.handshake("n-0")
    assert [answer["ok"] for answer in answers] == [True, True, False, False]
    assert "new_devices_per_minute" in answers[2]["error"]
    assert again["ok"] is True
    assert sorted(device.external_id for device in hub.devices.all()) == ["n-0", "n-1"]
    assert runtime.drops.counts.get("new_device_rate") == 2


async def test_the_embedded_broker_is_never_offered_beyond_loopback(hub_factory):
    hub = await hub_factory(
        hub_config("embedded", embedded={"host": "0.0.0.0", "port": free_port()}),
        integrations={"static_auth": static_auth},
    )
    assert hub.integration_state("mqtt_devices") == "failed"
    error = hub.integrations["mqtt_devices"].error
    assert "loopback" in error and "0.0.0.0" in error and "\n" not in error


def test_control_characters_in_topics_never_reach_a_log_line_raw(caplog):
    drops = DropCounter()
    evil = "station/st1/device/x\nWARNING forged line\x1b[2J\u2028/state"
    with caplog.at_level(logging.WARNING, logger="plugins.mqtt_devices.drops"):
        drops.drop("bad_external_id", evil, "detail with\rcarriage return")
    (record,) = caplog.records
    line = record.getMessage()
    for raw in ("\n", "\r", "\x1b", "\u2028"):
        assert raw not in line
    assert "x\\nWARNING forged line\\x1b[2J\\u2028/state" in line
    assert "\n" not in drops.snapshot()["last"]["bad_external_id"]["topic"]


async def test_with_mqtt5_a_live_retained_publish_is_refused_at_once(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url, protocol="5")
    runtime = runtime_for(hub)
    assert runtime is not None
    states = EventRecorder(hub.bus, "device_state_changed")
    async with device_client(mosquitto.url, "watcher") as watcher:
        await watcher.subscribe(topic("dev", "state"))
        async with device_client(mosquitto.url, "dev") as device:
            await device.handshake("dev")
            await device.publish(topic("dev", "state"), {"stored": True}, retain=True)
            await device.publish(topic("dev", "state"), {"live": True})
            await states.wait_for(lambda data: data["state"] == {"live": True})
        assert [data["state"] for data in states.events] == [{"live": True}]
        assert runtime.drops.counts.get("retained") == 1
        # The watcher sees the stored one, then the live one and the hub's clearing: those
        # two come from different clients (the device, the hub), so in either order.
        seen = [(await watcher.next_message())[1] for _ in range(3)]
        assert seen[0] == b'{"stored":true}'
        assert sorted(seen[1:]) == [b"", b'{"live":true}']
        # The hub got its clearing back before this marker: it was not counted as a drop.
        async with device_client(mosquitto.url, "dev") as device:
            await device.publish(topic("dev", "state"), {"marker": True})
            await states.wait_for(lambda data: data["state"] == {"marker": True})
    assert runtime.drops.counts == {"retained": 1}


def test_the_new_device_bucket_refills_at_its_rate():
    now = [0.0]
    gate = NewDeviceGate(max_devices=100, per_minute=2, clock=lambda: now[0])
    assert [gate.refusal(0) for _ in range(2)] == [None, None]
    refusal = gate.refusal(0)
    assert refusal is not None and refusal[0] == "new_device_rate"
    now[0] = 29.0  # not yet a whole token (2 a minute: one per 30 s)
    refusal = gate.refusal(0)
    assert refusal is not None and refusal[0] == "new_device_rate"
    now[0] = 31.0
    assert gate.refusal(0) is None
    now[0] = 3600.0  # a quiet hour refills the burst, no more
    answers = [gate.refusal(0) for _ in range(3)]
    third = answers[2]
    assert answers[:2] == [None, None] and third is not None and third[0] == "new_device_rate"
    refusal = gate.refusal(100)
    assert refusal is not None and refusal[0] == "device_limit"
