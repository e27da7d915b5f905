"""A connection the broker drops while the hub is not reading messages (a SUBSCRIBE during
session set-up, say) is not reported a second time by Python's garbage collector.

aiomqtt keeps an unexpected drop in a future only its message iterator reads; a session
that ends on another error leaves it unread, and collecting the client then logs "Future
exception was never retrieved" with a traceback. The pump's ``detach`` reads it.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import aiomqtt
import pytest

from hub.testing.mosquitto import MosquittoBroker
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.pump import MessagePump
from tests.mqtt_devices.helpers import WAIT
from tests.mqtt_devices.hub_process import until


async def unread_drops(pump: MessagePump, broker: MosquittoBroker, *, detach: bool) -> list[str]:
    """Drop a connection under a pending SUBSCRIBE; the loop's reports once it is collected."""
    reports: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    try:
        client = aiomqtt.Client(broker.host, broker.port, identifier="drop-probe")
        session = pump.attach(client)
        with pytest.raises(aiomqtt.MqttError):
            async with client:
                broker.kill()
                ended = client._disconnected  # paho has noticed once this is done
                await until(ended.done, within=WAIT)
                del ended  # nothing but the client may hold it when it is collected
                await client.subscribe("probe/#", timeout=WAIT)
        if detach:
            MessagePump.detach(session, client)
        del client, session
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    return [str(context.get("message")) for context in reports]


@pytest.fixture
async def pump(start_hub, mosquitto: MosquittoBroker) -> MessagePump:
    """The pump of a hub connected to ``mosquitto``."""
    runtime = runtime_for(await start_hub(mosquitto.url))
    assert runtime is not None
    return runtime.pump


async def test_a_drop_outside_the_message_wait_is_read_when_the_session_is_detached(
    pump: MessagePump, mosquitto: MosquittoBroker
) -> None:
    assert await unread_drops(pump, mosquitto, detach=True) == []


async def test_without_detach_python_reports_the_unread_drop(
    pump: MessagePump, mosquitto: MosquittoBroker
) -> None:
    """The control: the report the first test proves absent does appear without detach."""
    reports = await unread_drops(pump, mosquitto, detach=False)
    assert any("never retrieved" in message for message in reports), reports
