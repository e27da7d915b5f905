"""Test doubles that are real: an MQTT device client on the test broker, event recorders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt
import orjson

from hub.event_bus import Event, EventBus
from hub.events import EventType

STATION = "st1"


TOKEN = "t"
WAIT = 10.0


def topic(external_id: str, leaf: str, station: str = STATION) -> str:
    return f"station/{station}/device/{external_id}/{leaf}"


class EventRecorder:
    """Every event of one type fired on a hub's bus, awaitable by condition."""

    def __init__(self, bus: EventBus, event_type: EventType[Any] | str) -> None:
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self.unsubscribe = bus.listen(event_type, self._on_event)

    def _on_event(self, event: Event) -> None:
        self.events.append(event.data)
        self._arrived.set()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0, within: float = WAIT
    ) -> dict[str, Any]:
        """The first event (from index ``after``) that matches; TimeoutError after ``within``."""
        async with asyncio.timeout(within):
            seen = after
            while True:
                for data in self.events[seen:]:
                    if predicate(data):
                        return data
                seen = len(self.events)
                self._arrived.clear()
                await self._arrived.wait()


class DeviceClient:
    """A device (or an attacker) on the broker: publishes raw payloads, records what it gets."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.received: asyncio.Queue[tuple[str, bytes, int, bool]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def publish(
        self, topic_name: str, payload: Any, qos: int = 1, retain: bool = False
    ) -> None:
        if not isinstance(payload, bytes):
            payload = orjson.dumps(payload)
        await self.client.publish(topic_name, payload, qos=qos, retain=retain)

    async def subscribe(self, pattern: str) -> None:
        await self.client.subscribe(pattern, qos=1)

    async def next_message(self, within: float = WAIT) -> tuple[str, bytes, int, bool]:
        return await asyncio.wait_for(self.received.get(), within)

    async def next_json(self, within: float = WAIT) -> tuple[str, Any]:
        name, payload, _qos, _retain = await self.next_message(within)
        return name, orjson.loads(payload)

    async def handshake(
        self, external_id: str, device_type: str = "esp32-test", **extra: Any
    ) -> dict[str, Any]:
        """Handshake and return the hub's ack."""
        await self.subscribe(topic(external_id, "handshake/ack"))
        await self.publish(
            topic(external_id, "handshake"),
            {"deviceType": device_type, "firmware": "1.2.3", "capabilities": ["relay"], **extra},
        )
        while True:
            name, body = await self.next_json()
            if name == topic(external_id, "handshake/ack"):
                return body

    async def _read(self) -> None:
        async for message in self.client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            await self.received.put((message.topic.value, payload, message.qos, message.retain))


@contextlib.asynccontextmanager
async def device_client(
    url: str, client_id: str | None = None, **options: Any
) -> AsyncIterator[DeviceClient]:
    host, port = url.removeprefix("mqtt://").split(":")
    async with aiomqtt.Client(host, int(port), identifier=client_id, **options) as client:
        device = DeviceClient(client)
        device._reader = asyncio.ensure_future(device._read())
        try:
            yield device
        finally:
            device._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await device._reader
