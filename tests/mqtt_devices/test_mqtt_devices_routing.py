"""Topic handlers from any integration: order, failures, timeouts, late registration."""

from __future__ import annotations

import asyncio
import types
from typing import Any

from hub.hookspecs import hookimpl
from hub.registrar import MqttMessage, Registrar
from hub.testing import static_auth
from plugins.mqtt_devices import runtime_for
from tests.mqtt_devices.conftest import hub_config
from tests.mqtt_devices.helpers import WAIT, EventRecorder, device_client, topic


def fake_integration(received: list[MqttMessage]) -> types.ModuleType:
    """An integration whose topic handlers fail in every way a handler can."""
    module = types.ModuleType("flaky_topics")

    def broken(message: MqttMessage) -> None:
        raise RuntimeError("handler bug")

    async def broken_async(message: MqttMessage) -> None:
        await asyncio.sleep(0)
        raise ValueError("async handler bug")

    async def hangs(message: MqttMessage) -> None:
        await asyncio.Event().wait()

    def records(message: MqttMessage) -> None:
        received.append(message)

    @hookimpl
    def hub_register(hub: Any, registrar: Registrar, config: dict[str, Any]) -> None:
        registrar.mqtt_topic("test/broken/+", broken)
        registrar.mqtt_topic("test/broken-async/+", broken_async)
        registrar.mqtt_topic("test/hangs/+", hangs)
        registrar.mqtt_topic("test/records/#", records, qos=0)

    module.hub_register = hub_register  # type: ignore[attr-defined]
    return module


async def test_failing_and_hanging_handlers_are_counted_and_the_loop_goes_on(
    hub_factory, mosquitto
) -> None:
    received: list[MqttMessage] = []
    config = hub_config(mosquitto.url, handler_timeout=0.3)
    config["flaky_topics"] = {}
    hub = await hub_factory(
        config,
        integrations={"static_auth": static_auth, "flaky_topics": fake_integration(received)},
    )
    runtime = runtime_for(hub)
    assert runtime is not None and runtime.connection is not None
    await runtime.connection.wait_for_session(1)
    states = EventRecorder(hub.bus, "device_state_changed")
    async with device_client(mosquitto.url) as device:
        await device.handshake("d1")
        await device.publish("test/broken/1", b"x")
        await device.publish("test/broken-async/1", b"x")
        await device.publish("test/hangs/1", b"x")
        await device.publish("test/records/a/b", b"payload", qos=0)
        await device.publish(topic("d1", "state"), {"after": True})
        await states.wait_for(lambda data: data["state"] == {"after": True})
    assert runtime.drops.counts == {"handler_error": 2, "handler_timeout": 1}
    assert [(item.topic, item.payload) for item in received] == [("test/records/a/b", b"payload")]
    assert hub.integration_state("mqtt_devices") == "running"


async def test_state_right_after_handshake_waits_for_the_handshake(start_hub, mosquitto):
    """The handshake's database write is async; the state behind it must not be lost."""
    hub = await start_hub(mosquitto.url)
    states = EventRecorder(hub.bus, "device_state_changed")
    async with device_client(mosquitto.url) as device:
        for index in range(20):
            await device.publish(topic(f"fast-{index}", "handshake"), {"deviceType": "esp32"})
            await device.publish(topic(f"fast-{index}", "state"), {"n": index})
        await states.wait_for(lambda data: data["externalId"] == "fast-19")
    assert sorted(data["state"]["n"] for data in states.events) == list(range(20))
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.drops.counts == {}


async def test_topic_registered_after_start_is_subscribed_live_and_withdrawn_with_it(
    start_hub, mosquitto
) -> None:
    """The runtime observes the core's topic table: a topic registered after start is
    subscribed at the broker, and withdrawing its integration unsubscribes it."""
    hub = await start_hub(mosquitto.url)
    runtime = runtime_for(hub)
    assert runtime is not None
    arrived: asyncio.Queue[MqttMessage] = asyncio.Queue()
    Registrar(hub.registrations, "latecomer").mqtt_topic("late/+/news", arrived.put_nowait)
    await runtime.subscriptions_settled()
    async with device_client(mosquitto.url) as device:
        await device.publish("late/x/news", b"hello")
        message = await asyncio.wait_for(arrived.get(), WAIT)
        assert (message.topic, message.payload) == ("late/x/news", b"hello")
        assert "late/+/news" in [pattern for pattern, _ in runtime.subscriptions()]

        hub.registrations.withdraw("latecomer")
        await runtime.subscriptions_settled()
        await device.publish("late/x/news", b"nobody listens")
        # Handled in order after the publish above: had the broker still sent the news,
        # the router would have dropped it as unhandled by now.
        await device.handshake("after-withdrawal")
    assert arrived.empty()
    assert "no_handler" not in runtime.drops.counts
    assert "late/+/news" not in [pattern for pattern, _ in runtime.subscriptions()]
