"""Publish an MQTT message as a device would, and wait until the hub has handled it.

The hub handles a device's message by firing an event on its bus (``device_registered``
after a handshake, ``device_state_changed`` after a state, ...; docs/writing-integrations.md
lists them). Waiting for that event, rather than sleeping, makes a test exactly as fast as
the hub and never flaky: the listener is in place before the message leaves, so the event
cannot be missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiomqtt
import orjson

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.event_bus import Event

DEFAULT_TIMEOUT = 10.0


async def publish_and_wait(
    hub: Hub,
    broker_url: str,
    topic: str,
    payload: Any,
    *,
    until: str,
    match: Callable[[dict[str, Any]], bool] | None = None,
    qos: int = 1,
    within: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Publish ``payload`` (bytes, or anything JSON) on ``topic`` through the broker at
    ``broker_url`` (``mqtt://[user:password@]host:port``), then wait for the hub to fire
    the event type ``until`` with data that ``match`` accepts (any, by default); returns
    that data.

    ``TimeoutError`` after ``within`` seconds: the hub dropped the message, or handled it
    differently. The hub must already be connected to the broker (a started hub whose
    ``mqtt_devices`` integration is running).
    """
    handled: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def on_event(event: Event) -> None:
        if not handled.done() and (match is None or match(event.data)):
            handled.set_result(event.data)

    unsubscribe = hub.bus.listen(until, on_event)
    try:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        address = urlsplit(broker_url)
        async with asyncio.timeout(within):
            async with aiomqtt.Client(
                address.hostname or "127.0.0.1",
                address.port or 1883,
                username=address.username,
                password=address.password,
            ) as client:
                await client.publish(topic, body, qos=qos)
            return await handled
    finally:
        unsubscribe()
