"""Legacy messages (``type`` and no ``jsonrpc``), applied one at a time in arrival order.

Identity changes depend on their order (a member added, then updated, then removed), so
they go through one queue and one worker, never concurrent tasks. The worker outlives
any one connection: a message read just before the socket dropped is still applied.
Nothing is answered; the legacy dialect has no replies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import voluptuous as vol

from hub.http.json import describe_invalid

_LOGGER = logging.getLogger(__name__)

LegacyHandler = Callable[[dict[str, Any]], Awaitable[None]]


class LegacyInbox:
    def __init__(self, handlers: Mapping[str, LegacyHandler], *, max_queued: int = 1000) -> None:
        self._handlers = handlers
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_queued)
        self._handled = asyncio.Condition()
        self.handled = 0
        self.failed = 0
        self.dropped = 0

    def submit(self, message: dict[str, Any]) -> None:
        """Called by the read loop; never blocks it."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            _LOGGER.error(
                "Dropped legacy %r message: %d are already waiting",
                message.get("type"),
                self._queue.qsize(),
            )

    async def run(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._apply(message)
            finally:
                self._queue.task_done()
                async with self._handled:
                    self.handled += 1
                    self._handled.notify_all()

    async def drain(self) -> None:
        """Wait until every message already received has been applied (shutdown, tests)."""
        await self._queue.join()

    async def wait_handled(self, count: int) -> None:
        """Wait until ``count`` messages in total have been applied or refused."""
        async with self._handled:
            await self._handled.wait_for(lambda: self.handled >= count)

    async def _apply(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self.failed += 1
            _LOGGER.warning(
                "Ignored legacy message of unknown type %r (known: %s)",
                kind,
                ", ".join(sorted(self._handlers)),
            )
            return
        try:
            await handler(message)
        except vol.Invalid as error:
            self.failed += 1
            _LOGGER.error("Refused legacy %s message: %s", kind, describe_invalid(error))
        except ValueError as error:
            # Handlers raise ValueError for data that is well-formed but cannot apply.
            self.failed += 1
            _LOGGER.error("Refused legacy %s message: %s", kind, error)
        except Exception:
            self.failed += 1
            _LOGGER.exception("Legacy %s message failed", kind)
