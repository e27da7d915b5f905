"""A state's ``seq`` recognises a redelivery; a handshake starts the counter again."""

from __future__ import annotations

from hub.testing.mosquitto import MosquittoBroker
from tests.mqtt_devices.helpers import EventRecorder, device_client, topic


async def test_a_repeated_state_seq_is_recorded_once_until_the_next_handshake(
    start_hub, mosquitto: MosquittoBroker
) -> None:
    hub = await start_hub(mosquitto.url)
    changes = EventRecorder(hub.bus, "device_state_changed")
    async with device_client(mosquitto.url) as device:
        await device.handshake("esp-seq")
        await device.publish(topic("esp-seq", "state"), {"seq": 7, "t": 1})
        await device.publish(topic("esp-seq", "state"), {"seq": 7, "t": 2})  # a redelivery
        await device.publish(topic("esp-seq", "state"), {"seq": 8, "t": 3})
        await changes.wait_for(lambda data: data["state"]["t"] == 3)
        await device.handshake("esp-seq")  # the device restarted: its counter may too
        stored = hub.devices.by_external_id("esp-seq")
        assert "seq" not in stored.state
        await device.publish(topic("esp-seq", "state"), {"seq": 1, "t": 4})
        await changes.wait_for(lambda data: data["state"]["t"] == 4)
    history, _ = await hub.devices.history.states_page(stored.id)
    assert [item["state"]["t"] for item in history] == [4, 3, 1]
    assert hub.devices.duplicate_states == 1
