"""From a received MQTT message to the topic handlers registered with the core.

Messages are handled as paho parses them, inside its read callback: no queue, no task per
message, and for QoS 1 the PUBACK goes out only after the (synchronous) handlers ran, so
an acknowledged message has reached the device registry. A handler that returns an
awaitable (a handshake writes to the database) holds back the messages after it until it
finishes or times out, so a device's state is never applied before its own handshake.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from hub.registrar import MqttMessage, TopicHandler, TopicSubscription, topic_matches

from .const import DROP_HANDLER_ERROR, DROP_HANDLER_TIMEOUT, DROP_NO_HANDLER
from .drops import DropCounter

_LOGGER = logging.getLogger(__name__)

# Distinct topics whose handler lists are remembered; one per device and leaf is typical.
CACHE_LIMIT = 16_384
# While draining a backlog, give the event loop a turn this often.
YIELD_EVERY = 256


class TopicRouter:
    def __init__(
        self,
        topics: dict[str, TopicSubscription],
        drops: DropCounter,
        *,
        handler_timeout: float,
    ) -> None:
        self._topics = topics
        self._drops = drops
        self._handler_timeout = handler_timeout
        self._known = len(topics)
        self._cache: dict[str, tuple[TopicHandler, ...]] = {}
        self._backlog: deque[MqttMessage] = deque()
        self._drain_task: asyncio.Task[None] | None = None
        self.received = 0

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def topics_changed(self) -> None:
        """Forget cached handler lists (a topic was registered or withdrawn)."""
        self._cache.clear()
        self._known = len(self._topics)

    def handlers_for(self, topic: str) -> tuple[TopicHandler, ...]:
        if len(self._topics) != self._known:
            # The core withdrew a failed integration's topics; stop calling its handlers.
            self.topics_changed()
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

    def deliver(self, message: MqttMessage) -> None:
        """Handle one message now, or after the pending async handler; never raises."""
        self.received += 1
        if self._drain_task is not None:
            self._backlog.append(message)
            return
        pending = self._dispatch(message)
        if pending:
            self._drain_task = asyncio.get_running_loop().create_task(
                self._drain(pending), name="mqtt-router-drain"
            )

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

    async def _drain(self, pending: list[Awaitable[Any]]) -> None:
        try:
            await self._settle(pending)
            handled = 0
            while self._backlog:
                message = self._backlog.popleft()
                later = self._dispatch(message)
                if later:
                    await self._settle(later)
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


class InlineInbox(asyncio.Queue[aiomqtt.Message]):
    """Takes the place of aiomqtt's incoming-message queue (its ``queue_type`` option).

    aiomqtt puts each message it receives into this queue from paho's read callback;
    this one hands the message to the router right there instead of storing it, which
    saves a queue round trip and a task per message. Nothing is ever queued, so aiomqtt's
    ``messages`` iterator only wakes when the connection is lost.
    """

    def __init__(self, router: TopicRouter, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._router = router

    def put_nowait(self, item: aiomqtt.Message) -> None:
        try:
            self._router.deliver(MqttMessage(item.topic.value, item.payload, item.qos, item.retain))
        except Exception:
            # paho would re-raise into its read loop and drop the connection.
            _LOGGER.exception("Unexpected error while routing an MQTT message")


def inbox_factory(router: TopicRouter) -> Callable[..., asyncio.Queue[aiomqtt.Message]]:
    """What to pass as aiomqtt's ``queue_type``: it is called as ``queue_type(maxsize=...)``."""

    def make(maxsize: int = 0) -> asyncio.Queue[aiomqtt.Message]:
        return InlineInbox(router, maxsize)

    return make
