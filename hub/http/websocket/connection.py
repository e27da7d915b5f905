"""One authenticated client of ``/api/websocket``: its frames in, its frames out.

Frames out go through one bounded queue and one writer task, so a bus event never waits
on a socket: listeners only append. A client that cannot keep up (``MAX_QUEUE`` frames
waiting) is disconnected rather than allowed to grow the hub's memory. A client that
asked for ``coalesce_messages`` gets whatever has piled up since the last write as one
JSON array, as Home Assistant does: under load that is one frame (and one syscall) for
many messages, and nothing changes when the hub is idle.

Frames in are read in order; a command whose handler awaits (``call_service``) runs as
a task so a slow device cannot hold up a ``ping``, and its result arrives when it is
ready, as in HA.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from hub.http.json import parse_json_bytes
from hub.http.websocket import messages
from hub.http.websocket.commands import COMMANDS
from hub.http.websocket.session import SessionGuard

if TYPE_CHECKING:
    from hub.auth import Principal
    from hub.core import Hub
    from hub.http.websocket.entities import EntityStore

_LOGGER = logging.getLogger(__name__)

MAX_QUEUE = 4096
# A coalesced frame stops growing here (one message alone may still be larger), so a
# backlog becomes a few large frames rather than one huge one.
MAX_BATCH_BYTES = 512 * 1024
# How long a coalescing client's writer waits, once woken, for more messages to join the
# first. Each frame costs a send (tens of µs on a small box), so a stream to many
# dashboards costs a fraction of that CPU for at most this much more latency.
COALESCE_WINDOW = 0.002


class Connection:
    """The state of one client: who it is, what it subscribed to, what it is owed."""

    def __init__(
        self,
        hub: Hub,
        socket: web.WebSocketResponse,
        principal: Principal,
        entities: EntityStore,
        envelopes: messages.EnvelopeCache,
    ) -> None:
        self.hub = hub
        self.socket = socket
        self.principal = principal
        self.entities = entities
        self.envelopes = envelopes
        self.coalesce = False
        self.subscriptions: dict[int, Callable[[], None]] = {}
        self._last_id = 0
        self._queue: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._closing = False

    # ---- out -------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue one serialized message; never blocks, never raises."""
        if self._closing:
            return
        if len(self._queue) >= MAX_QUEUE:
            _LOGGER.warning(
                "WebSocket client %s fell %d messages behind; closing it",
                self.principal.name or self.principal.id,
                MAX_QUEUE,
            )
            self._closing = True
            self._queue.clear()
            self._ready.set()
            self.close_subscriptions()
            self.hub.create_task(
                self.socket.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too slow"),
                name="ws-close-slow",
            )
            return
        self._queue.append(frame)
        self._ready.set()

    def result(self, message_id: int, value: Any = None) -> None:
        self.send(messages.result(message_id, value))

    def error(self, message_id: int | None, code: str, message: str) -> None:
        self.send(messages.error(message_id, code, message))

    async def write(self) -> None:
        """Drain the queue onto the socket until the connection ends."""
        queue = self._queue
        while not self._closing:
            if not queue:
                self._ready.clear()
                await self._ready.wait()
                if self.coalesce and COALESCE_WINDOW > 0:
                    # Let a stream gather for a moment: one frame, and one send, for
                    # what would have been several.
                    await asyncio.sleep(COALESCE_WINDOW)
                continue
            frame = self._next_batch() if self.coalesce and len(queue) > 1 else queue.popleft()
            try:
                await self.socket.send_frame(frame, WSMsgType.TEXT)
            except ConnectionError:
                _LOGGER.debug("A WebSocket client left while being written to")
                self._closing = True  # nothing more to queue for it
                return

    def _next_batch(self) -> bytes:
        queue = self._queue
        frames = [queue.popleft()]
        size = len(frames[0])
        while queue and size + len(queue[0]) + 1 <= MAX_BATCH_BYTES:
            frame = queue.popleft()
            frames.append(frame)
            size += len(frame) + 1
        if len(frames) == 1:
            return frames[0]
        return b"[" + b",".join(frames) + b"]"

    # ---- in --------------------------------------------------------------------------

    def handle(self, message: Any) -> None:
        """Check one parsed frame's ``id`` and ``type`` as HA does, then run its command."""
        if not isinstance(message, dict):
            self.error(None, messages.ERR_INVALID_FORMAT, "Message incorrectly formatted.")
            return
        message_id = message.get("id")
        kind = message.get("type")
        if type(message_id) is not int or message_id <= 0 or not isinstance(kind, str):
            self.error(
                message_id if type(message_id) is int else None,
                messages.ERR_INVALID_FORMAT,
                "Message incorrectly formatted: 'id' must be a positive integer "
                "and 'type' a string.",
            )
            return
        if message_id <= self._last_id:
            self.error(message_id, messages.ERR_ID_REUSE, "Identifier values have to increase.")
            return
        self._last_id = message_id
        command = COMMANDS.get(kind)
        if command is None:
            self.error(message_id, messages.ERR_UNKNOWN_COMMAND, f"Unknown command: {kind}.")
            return
        if command.roles and self.principal.role not in command.roles:
            self.error(message_id, messages.ERR_UNAUTHORIZED, f"{kind} needs another role.")
            return
        try:
            outcome = command.handler(self, message_id, message)
        except Exception:
            _LOGGER.exception("WebSocket command %s failed", kind)
            self.error(message_id, messages.ERR_UNKNOWN_ERROR, "Unknown error.")
            return
        if inspect.isawaitable(outcome):
            # The hub's task, not the socket's: a command a user sent is carried through
            # even if they close the tab meanwhile; the hub's stop cancels it.
            self.hub.create_task(self._finish(kind, message_id, outcome), name=f"ws-{kind}")

    async def _finish(self, kind: str, message_id: int, outcome: Any) -> None:
        try:
            await outcome
        except Exception:
            _LOGGER.exception("WebSocket command %s failed", kind)
            self.error(message_id, messages.ERR_UNKNOWN_ERROR, "Unknown error.")

    def close_subscriptions(self) -> None:
        for unsubscribe in self.subscriptions.values():
            unsubscribe()
        self.subscriptions.clear()

    # ---- life ------------------------------------------------------------------------

    async def run(self, token: str) -> None:
        """Serve the client until it leaves or its session ends; clean up either way."""
        writer = asyncio.create_task(self.write(), name="ws-writer")

        async def end_session(code: int, reason: str) -> None:
            # Nothing more reaches a client whose right ended, even while the close runs.
            self._closing = True
            self.close_subscriptions()
            with contextlib.suppress(ConnectionError):
                await self.socket.close(code=code, message=reason.encode())

        guard = SessionGuard(self.hub, self.principal, token, end_session)
        guard.start()
        try:
            async for frame in self.socket:
                if frame.type == WSMsgType.TEXT:
                    try:
                        data = parse_json_bytes(frame.data.encode())
                    except ValueError as error:
                        self.error(None, messages.ERR_INVALID_FORMAT, str(error))
                        continue
                    self.handle(data)
                elif frame.type == WSMsgType.BINARY:
                    self.error(None, messages.ERR_INVALID_FORMAT, "Binary frames are not accepted.")
        finally:
            guard.stop()
            self._closing = True
            self._ready.set()
            self.close_subscriptions()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
