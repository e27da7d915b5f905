"""From a received MQTT message to the topic handlers registered with the core.

The pump (pump.py) calls ``deliver`` as paho parses each message: no queue, no task per
message. Once the handlers ran, the message's ``done`` (its acknowledgement) is handed to
``durable``, which calls it when what the handlers queued is committed. A handler that
returns an awaitable (a handshake writes to the database) holds back the messages after it
until it finishes or times out, so a device's state is never applied before its own
handshake, and acknowledgements keep the order the messages came in.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from hub.registrar import MqttMessage, TopicHandler, TopicSubscription, topic_matches

from .const import DROP_HANDLER_ERROR, DROP_HANDLER_TIMEOUT, DROP_NO_HANDLER
from .drops import DropCounter

_LOGGER = logging.getLogger(__name__)

# Distinct topics whose handler lists are remembered; one per device and leaf is typical.
CACHE_LIMIT = 16_384
# While draining a backlog, give the event loop a turn this often.
YIELD_EVERY = 256

Done = Callable[[], None]


def _at_once(done: Done) -> None:
    done()


class TopicRouter:
    def __init__(
        self,
        topics: dict[str, TopicSubscription],
        drops: DropCounter,
        *,
        handler_timeout: float,
        durable: Callable[[Done], None] = _at_once,
    ) -> None:
        self._topics = topics
        self._durable = durable
        self._drops = drops
        self._handler_timeout = handler_timeout
        self._cache: dict[str, tuple[TopicHandler, ...]] = {}
        self._backlog: deque[tuple[MqttMessage, Done | None]] = deque()
        self._drain_task: asyncio.Task[None] | None = None
        self.received = 0

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def topics_changed(self) -> None:
        """Forget cached handler lists: a topic was registered or withdrawn (the runtime
        observes the core's topic table and calls this)."""
        self._cache.clear()

    def handlers_for(self, topic: str) -> tuple[TopicHandler, ...]:
        handlers = self._cache.get(topic)
        if handlers is None:
            handlers = tuple(
                subscription.handler
                for pattern, subscription in self._topics.items()
                if topic_matches(pattern, topic)
            )
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[topic] = handlers
        return handlers

    def deliver(self, message: MqttMessage, done: Done | None = None) -> None:
        """Handle one message now, or after the pending async handler; never raises.

        ``done`` (the acknowledgement) goes to ``durable`` once the handlers ran.
        """
        self.received += 1
        if self._drain_task is not None:
            self._backlog.append((message, done))
            return
        pending = self._dispatch(message)
        if pending:
            self._drain_task = asyncio.get_running_loop().create_task(
                self._drain(pending, done), name="mqtt-router-drain"
            )
        elif done is not None:
            self._durable(done)

    async def idle(self, within: float) -> None:
        """Wait until held-back messages are handled (used before the hub stops)."""
        async with asyncio.timeout(within):
            while self._drain_task is not None:
                await asyncio.shield(self._drain_task)

    def _dispatch(self, message: MqttMessage) -> list[Awaitable[Any]] | None:
        handlers = self.handlers_for(message.topic)
        if not handlers:
            self._drops.drop(DROP_NO_HANDLER, message.topic, "no integration handles this topic")
            return None
        pending: list[Awaitable[Any]] | None = None
        for handler in handlers:
            try:
                result = handler(message)
            except Exception as error:
                self._handler_failed(handler, message, error)
                continue
            if result is not None and inspect.isawaitable(result):
                if pending is None:
                    pending = []
                pending.append(result)
        return pending

    async def _drain(self, pending: list[Awaitable[Any]], first: Done | None) -> None:
        try:
            await self._settle(pending)
            if first is not None:
                self._durable(first)
            handled = 0
            while self._backlog:
                message, done = self._backlog.popleft()
                later = self._dispatch(message)
                if later:
                    await self._settle(later)
                if done is not None:
                    self._durable(done)
                handled += 1
                if handled % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        finally:
            self._drain_task = None
            if self._backlog:
                _LOGGER.error(
                    "MQTT router stopped with %d held-back messages unhandled", len(self._backlog)
                )

    async def _settle(self, pending: list[Awaitable[Any]]) -> None:
        for awaitable in pending:
            future = asyncio.ensure_future(awaitable)
            try:
                await asyncio.wait_for(future, self._handler_timeout)
            except TimeoutError:
                self._drops.drop(
                    DROP_HANDLER_TIMEOUT,
                    "",
                    f"a topic handler took longer than {self._handler_timeout:g} s",
                )
            except Exception as error:
                self._drops.drop(DROP_HANDLER_ERROR, "", f"{type(error).__name__}: {error}")
                _LOGGER.debug("Async MQTT topic handler failed", exc_info=error)

    def _handler_failed(
        self, handler: Callable[..., Any], message: MqttMessage, error: Exception
    ) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        self._drops.drop(
            DROP_HANDLER_ERROR, message.topic, f"{name}: {type(error).__name__}: {error}"
        )
        _LOGGER.debug("MQTT topic handler %s failed", name, exc_info=error)
