"""A JSON-RPC 2.0 peer that both calls and serves over one already-open text channel.

Published Python JSON-RPC libraries either own the socket or only serve; the cloud link
needs both directions on a socket it opened itself, after its own auth phase, next to
legacy frames that are not JSON-RPC at all. So the peer only sees parsed JSON-RPC
messages (``dispatch``) and writes through a ``send_text`` callable; who reads the socket
and routes frames is the caller's business (see ``plugins.cloud_link.frames``).

Requests are served in tasks so a slow handler never stalls the reader (and a handler may
call back to the other side without deadlocking); responses to our own calls are matched
inline by id.

Replies are bounded: a batch holds at most ``max_batch`` requests, and one reply frame (a
single response, or all of a batch's) at most ``max_reply_bytes`` of results. A result
that does not fit is answered with -32004 instead, the moment it is encoded, so a tiny
batch of 100 expensive calls can neither build a huge frame nor keep 100 big results in
memory. Small responses (up to ``SMALL_REPLY_BYTES``: errors, a command's id) always go
through, so a call that did something is never reported as failed for lack of room.

``close`` fails every pending call and cancels every running handler, so nothing waits
forever on a socket that is gone.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import voluptuous as vol

from hub.http.json import describe_invalid
from hub.rpc import CallContext
from hub.tasks import wait_all
from plugins.cloud_link.jsonrpc import messages
from plugins.cloud_link.jsonrpc.errors import (
    BATCH_TOO_LARGE,
    HANDLER_TIMEOUT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    REPLY_TOO_LARGE,
    REPLY_TOO_LARGE_MESSAGE,
    SERVER_BUSY,
    CallTimeout,
    ConnectionClosed,
    RpcError,
)
from plugins.cloud_link.jsonrpc.messages import Params, RejectedRequest, Request, RequestId

_LOGGER = logging.getLogger(__name__)

SendText = Callable[[str], Awaitable[None]]

#: Responses this small are always sent, whatever the reply budget says.
SMALL_REPLY_BYTES = 1024


# The context handlers get is the core's (hub/rpc.py): any integration's method runs here.
Handler = Callable[[Any, CallContext], Any]
MethodLookup = Callable[[str], Handler | None]


@dataclass(frozen=True, slots=True)
class PeerLimits:
    """Bounds that keep a misbehaving remote side from exhausting the station."""

    call_timeout: float = 30.0
    handler_timeout: float = 30.0
    max_batch: int = 100
    max_in_flight: int = 64
    #: Bytes of results one reply frame may carry (a batch's replies together).
    max_reply_bytes: int = 1024 * 1024


class _ReplyBudget:
    """What is left of one reply frame's byte allowance, shared by a batch's members."""

    __slots__ = ("limit", "remaining")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit

    def admit(self, size: int) -> bool:
        if size <= SMALL_REPLY_BYTES:
            return True
        if size > self.remaining:
            return False
        self.remaining -= size
        return True


class JsonRpcPeer:
    def __init__(
        self,
        send_text: SendText,
        lookup: MethodLookup,
        *,
        limits: PeerLimits | None = None,
        source: str = "remote",
    ) -> None:
        self._send_text = send_text
        self._lookup = lookup
        self._limits = limits or PeerLimits()
        self._source = source
        self._ids = itertools.count(1)
        self._pending: dict[RequestId, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._active_handlers = 0
        self._closed: ConnectionClosed | None = None
        self.unmatched_responses = 0

    @property
    def closed(self) -> bool:
        return self._closed is not None

    @property
    def pending_calls(self) -> int:
        return len(self._pending)

    @property
    def limits(self) -> PeerLimits:
        return self._limits

    # --- calling the other side -------------------------------------------------------

    async def call(self, method: str, params: Params = None, *, within: float | None = None) -> Any:
        """Call ``method`` and return its result.

        Raises ``RpcError`` for an error response, ``CallTimeout`` when nothing came back
        ``within`` seconds (default ``PeerLimits.call_timeout``), ``ConnectionClosed``.
        """
        request_id, future = self._new_pending()
        try:
            await self._send(messages.request(method, params, request_id))
            return await self._wait(future, method, self._timeout(within))
        finally:
            self._pending.pop(request_id, None)

    async def call_many(
        self, calls: Sequence[tuple[str, Params]], *, within: float | None = None
    ) -> list[Any]:
        """Send several calls as one batch frame.

        Each slot of the answer holds that call's result, or the ``RpcError`` or
        ``CallTimeout`` it ended with; ``within`` bounds the whole batch.
        """
        if not calls:
            return []
        pending = [self._new_pending() for _ in calls]
        deadline = asyncio.get_running_loop().time() + self._timeout(within)
        try:
            await self._send(
                [
                    messages.request(method, params, request_id)
                    for (method, params), (request_id, _) in zip(calls, pending, strict=True)
                ]
            )
            outcomes: list[Any] = []
            for (method, _), (_, future) in zip(calls, pending, strict=True):
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    outcomes.append(await self._wait(future, method, remaining))
                except (RpcError, CallTimeout) as error:
                    outcomes.append(error)
            return outcomes
        finally:
            for request_id, _ in pending:
                self._pending.pop(request_id, None)

    async def notify(self, method: str, params: Params = None) -> None:
        await self._send(messages.notification(method, params))

    async def notify_many(self, notifications: Sequence[tuple[str, Params]]) -> None:
        """Send notifications as one batch frame (one frame, no reply by the spec)."""
        if notifications:
            await self._send([messages.notification(m, p) for m, p in notifications])

    # --- what arrives from the other side -----------------------------------------

    def dispatch(self, message: Any) -> None:
        """Take one parsed JSON-RPC frame; responses are matched now, requests run in a task."""
        if self._closed is not None:
            return
        if messages.is_response(message):
            self._deliver(message)
            return
        task = asyncio.get_running_loop().create_task(self.handle(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, message: Any) -> None:
        """Serve one frame (request, notification or batch) and send its reply, if any."""
        reply = await self.process(message)
        if reply is None:
            return
        try:
            await self._send_encoded(reply)
        except ConnectionClosed:
            _LOGGER.debug("Reply dropped: the connection closed while the request ran")

    async def reply_error(self, error: RpcError) -> None:
        """Answer a frame that could not be read at all (parse error, oversized frame)."""
        await self._send(messages.failure(None, error))

    async def process(self, message: Any) -> bytes | None:
        """The encoded reply to a frame, or None when the spec says nothing is sent back."""
        if isinstance(message, list):
            return await self._process_batch(message)
        if messages.is_response(message):
            self._deliver(message)
            return None
        return await self._process_one(message, _ReplyBudget(self._limits.max_reply_bytes))

    # --- shutting down --------------------------------------------------------------

    def close(self, reason: str = "connection closed") -> None:
        """Fail pending calls and cancel running handlers; later calls fail at once."""
        if self._closed is not None:
            return
        self._closed = ConnectionClosed(reason)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionClosed(reason))
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()

    async def wait_idle(self) -> None:
        """Wait until every handler task has finished (tests and orderly shutdown)."""
        await wait_all(self._tasks)

    # --- internals ------------------------------------------------------------------

    def _timeout(self, within: float | None) -> float:
        return self._limits.call_timeout if within is None else within

    def _new_pending(self) -> tuple[int, asyncio.Future[Any]]:
        if self._closed is not None:
            raise ConnectionClosed(str(self._closed))
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        return request_id, future

    async def _wait(self, future: asyncio.Future[Any], method: str, limit: float) -> Any:
        try:
            return await asyncio.wait_for(future, max(limit, 0.0))
        except TimeoutError:
            raise CallTimeout(f"no response to {method} within the timeout") from None

    def _deliver(self, message: dict[str, Any]) -> None:
        future = self._pending.get(message.get("id"))
        if future is None or future.done():
            self.unmatched_responses += 1
            if message.get("id") is None and "error" in message:
                _LOGGER.warning(
                    "The remote side could not read a frame we sent: %s",
                    messages.error_from_response(message),
                )
            else:
                _LOGGER.debug("Dropped a response for unknown id %r", message.get("id"))
            return
        if "error" in message:
            future.set_exception(messages.error_from_response(message))
        else:
            future.set_result(message.get("result"))

    async def _process_batch(self, batch: list[Any]) -> bytes | None:
        if not batch:
            return _encode(messages.failure(None, RpcError(INVALID_REQUEST, data="empty batch")))
        if len(batch) > self._limits.max_batch:
            error = RpcError(
                BATCH_TOO_LARGE,
                data=f"batch of {len(batch)} exceeds the limit of {self._limits.max_batch}",
            )
            return _encode(messages.failure(None, error))
        budget = _ReplyBudget(self._limits.max_reply_bytes)
        replies = await asyncio.gather(*(self._process_batch_item(item, budget) for item in batch))
        present = [reply for reply in replies if reply is not None]
        if not present:
            return None
        return b"[" + b",".join(present) + b"]"

    async def _process_batch_item(self, item: Any, budget: _ReplyBudget) -> bytes | None:
        if messages.is_response(item):
            self._deliver(item)
            return None
        return await self._process_one(item, budget)

    async def _process_one(self, message: Any, budget: _ReplyBudget) -> bytes | None:
        try:
            request = messages.parse_request(message)
        except RejectedRequest as rejected:
            return _encode(messages.failure(rejected.id, rejected.error))
        try:
            result = await self._run(request)
        except RpcError as error:
            if request.is_notification:
                _LOGGER.info("Notification %s failed: %s", request.method, error)
                return None
            return _encode(messages.failure(request.id, error))
        if request.is_notification:
            return None
        try:
            reply = _encode(messages.success(request.id, result))
        except TypeError:
            _LOGGER.exception("%s returned a result that is not JSON", request.method)
            return _encode(messages.failure(request.id, RpcError(INTERNAL_ERROR)))
        del result  # the encoded reply is all that is kept from here
        if budget.admit(len(reply)):
            return reply
        _LOGGER.warning(
            "The %d-byte result of %s (id %r) does not fit the %d-byte reply limit",
            len(reply),
            request.method,
            request.id,
            budget.limit,
        )
        too_large = RpcError(
            REPLY_TOO_LARGE,
            REPLY_TOO_LARGE_MESSAGE,
            data=f"the result of {request.method} is {len(reply)} bytes and the reply may "
            f"carry {budget.limit} in all; ask for less (devices.snapshot takes a smaller "
            "limit) or send the calls in separate frames",
        )
        return _encode(messages.failure(request.id, too_large))

    async def _run(self, request: Request) -> Any:
        handler = self._lookup(request.method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, data=f"no method named {request.method!r}")
        if self._active_handlers >= self._limits.max_in_flight:
            raise RpcError(
                SERVER_BUSY,
                data=f"{self._active_handlers} requests are already running; retry later",
            )
        context = CallContext(
            peer=self,
            method=request.method,
            request_id=request.id,
            is_notification=request.is_notification,
            source=self._source,
            max_reply_bytes=self._limits.max_reply_bytes,
        )
        params = request.params if request.params is not None else {}
        self._active_handlers += 1
        try:
            result = handler(params, context)
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, self._limits.handler_timeout)
            return result
        except RpcError:
            raise
        except vol.Invalid as error:
            raise RpcError(INVALID_PARAMS, data=describe_invalid(error)) from None
        except TimeoutError:
            raise RpcError(
                HANDLER_TIMEOUT,
                data=f"{request.method} did not finish within {self._limits.handler_timeout:g} s",
            ) from None
        except Exception:
            _LOGGER.exception("RPC method %s failed (id %r)", request.method, request.id)
            raise RpcError(INTERNAL_ERROR, data="the station logged the failure") from None
        finally:
            self._active_handlers -= 1

    async def _send(self, message: Any) -> None:
        await self._send_encoded(_encode(message))

    async def _send_encoded(self, payload: bytes) -> None:
        if self._closed is not None:
            raise ConnectionClosed(str(self._closed))
        try:
            await self._send_text(payload.decode())
        except ConnectionClosed:
            raise
        except (ConnectionError, RuntimeError) as error:
            # aiohttp raises ConnectionResetError or RuntimeError on a closing socket.
            raise ConnectionClosed(f"send failed: {error}") from error


def _encode(message: Any) -> bytes:
    return orjson.dumps(message)
