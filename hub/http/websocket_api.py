"""The WebSocket events API, in Home Assistant's shape (PRODUCT.md §4).

A connection is authenticated once, by the same ``user`` scheme the HTTP routes use, then
carries ``{id, type}`` commands. Events are queued per connection (bounded): a client that
cannot keep up is disconnected rather than allowed to grow the hub's memory.

A socket lives only as long as the right to it (``SessionGuard``): it is closed with
``CLOSE_SESSION_EXPIRED`` when its credential's ``expires_at`` passes, and with
``CLOSE_SESSION_REVOKED`` as soon as an auth scheme fires ``SESSIONS_REVOKED`` for its
principal, or a periodic re-check of its token fails. The guard is public so every
integration that keeps authenticated sockets (the provisioning feed) ends them the same
way; the core learns nothing about users, only principals and one event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from hub import __version__
from hub.auth import CLOSE_SESSION_EXPIRED, CLOSE_SESSION_REVOKED, PUBLIC, Principal
from hub.events import MATCH_ALL, SESSIONS_REVOKED, Event
from hub.http.errors import ApiError
from hub.http.json import dumps, parse_json_bytes
from hub.registrar import Registrar

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
MAX_QUEUE = 4096
MAX_MESSAGE_BYTES = 64 * 1024
# How often a live socket's token is checked again with its scheme. Revocations made in
# this process end sockets at once (SESSIONS_REVOKED); this bounds how long one made by
# another process (the CLI on the same database) goes unnoticed.
RECHECK_INTERVAL = 60.0
# RFC 6455 limits a close frame's reason to 123 bytes.
MAX_CLOSE_REASON_BYTES = 123

SocketCloser = Callable[[int, str], Awaitable[None]]
# Bus events that are the hub's own plumbing, never forwarded to subscribers (even of
# "*"): who lost their sessions and why is no other user's business.
PRIVATE_EVENTS = frozenset({SESSIONS_REVOKED})


class SessionGuard:
    """Ends one live socket when the right to it ends.

    ``close(code, reason)`` is called at most once: with ``CLOSE_SESSION_EXPIRED`` when
    the principal's ``expires_at`` passes, with ``CLOSE_SESSION_REVOKED`` when
    ``SESSIONS_REVOKED`` names the principal (and its credential, if the event names
    one), or when re-checking ``token`` with ``scheme_name`` every ``RECHECK_INTERVAL``
    fails. ``stop()`` when the socket ends for any other reason.
    """

    def __init__(
        self,
        hub: Hub,
        principal: Principal,
        token: str,
        close: SocketCloser,
        *,
        scheme_name: str = "user",
        recheck_interval: float | None = None,
    ) -> None:
        self._hub = hub
        self._principal = principal
        self._token = token
        self._close = close
        self._scheme_name = scheme_name
        self._recheck_interval = recheck_interval or RECHECK_INTERVAL
        self._unsubscribe: Callable[[], None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self.ended: tuple[int, str] | None = None

    def start(self) -> None:
        self._unsubscribe = self._hub.bus.listen(SESSIONS_REVOKED, self._on_revoked)
        self._watch = asyncio.create_task(self._watch_expiry(), name="ws-session-guard")

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()

    def _on_revoked(self, event: Event) -> None:
        data = event.data
        if data.get("kind") != self._principal.kind or data.get("id") != self._principal.id:
            return
        credential = data.get("credentialId")
        if credential is not None and credential != self._principal.credential_id:
            return
        reason = data.get("reason") or "revoked"
        self._end(CLOSE_SESSION_REVOKED, f"session revoked: {reason}; authenticate again")

    def _end(self, code: int, reason: str) -> None:
        if self.ended is not None:
            return
        self.ended = (code, reason)
        self.stop()
        _LOGGER.info(
            "Closing a live socket of %s %s: %s",
            self._principal.kind,
            self._principal.name or self._principal.id,
            reason,
        )
        self._hub.create_task(self._close(code, _close_reason(reason)), name="ws-session-end")

    async def _watch_expiry(self) -> None:
        expires_at = self._principal.expires_at
        while True:
            delay = self._recheck_interval
            if expires_at is not None:
                delay = min(delay, expires_at - time.time())
            if delay > 0:
                await asyncio.sleep(delay)
            if expires_at is not None and time.time() >= expires_at:
                self._end(CLOSE_SESSION_EXPIRED, "session expired: the token's lifetime ended")
                return
            if not await self._still_valid():
                return

    async def _still_valid(self) -> bool:
        scheme = self._hub.registrations.auth_scheme(self._scheme_name)
        if scheme is None:
            self._end(CLOSE_SESSION_REVOKED, "session revoked: authentication is not running")
            return False
        try:
            await scheme.authenticate_token(self._token)
        except ApiError as error:
            code = CLOSE_SESSION_EXPIRED if error.code == "token_expired" else CLOSE_SESSION_REVOKED
            self._end(code, f"session ended: {error.message}")
            return False
        except Exception:
            # The scheme could not answer (its database is away, say): keep the socket
            # and ask again next time rather than cut everyone off on a hiccup.
            _LOGGER.exception("Re-checking a live socket's token failed; retrying later")
        return True


def _close_reason(reason: str) -> str:
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."


async def authenticate_socket(
    hub: Hub, socket: web.WebSocketResponse, hello: dict[str, Any] | None = None
) -> tuple[Principal, str] | None:
    """The in-band auth phase every authenticated socket of the hub shares.

    Sends ``auth_required`` (with ``hello``'s fields), reads one ``{"type": "auth",
    "access_token": ...}`` and checks it with the ``user`` scheme; answers ``auth_ok`` and
    returns the principal and its token, or answers ``auth_invalid``, closes the socket
    and returns None. A browser cannot set headers on an upgrade, hence in-band.
    """
    extra = hello or {}
    await socket.send_str(dumps({"type": "auth_required", **extra}).decode())
    try:
        message = await socket.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await _refuse(socket, f"no auth message within {AUTH_TIMEOUT:g} s")
        return None
    if message.type != WSMsgType.TEXT:
        await _refuse(socket, "expected an auth message")
        return None
    try:
        data = parse_json_bytes(message.data.encode())
    except ValueError as error:
        await _refuse(socket, str(error))
        return None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("type") != "auth" or not isinstance(token, str):
        await _refuse(socket, 'expected {"type": "auth", "access_token": "..."}')
        return None
    scheme = hub.registrations.auth_scheme("user")
    if scheme is None:
        await _refuse(socket, "no running integration provides user authentication")
        return None
    try:
        principal = await scheme.authenticate_token(token)
    except ApiError as error:
        await _refuse(socket, error.message)
        return None
    await socket.send_str(dumps({"type": "auth_ok", **extra}).decode())
    return principal, token


class _Connection:
    def __init__(self, hub: Hub, socket: web.WebSocketResponse, principal: Principal) -> None:
        self.hub = hub
        self.socket = socket
        self.principal = principal
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_QUEUE)
        self.subscriptions: dict[int, Callable[[], None]] = {}

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(dumps(message))
        except asyncio.QueueFull:
            _LOGGER.warning("WebSocket client %s is too slow; closing", self.principal.name)
            self.close_subscriptions()
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            self.hub.create_task(self.socket.close(message=b"too slow"), name="ws-close")

    async def writer(self) -> None:
        while True:
            data = await self.queue.get()
            if data is None or self.socket.closed:
                return
            await self.socket.send_str(data.decode())

    def close_subscriptions(self) -> None:
        for unsubscribe in self.subscriptions.values():
            unsubscribe()
        self.subscriptions.clear()

    def result(self, message_id: Any, result: Any = None) -> None:
        self.send({"id": message_id, "type": "result", "success": True, "result": result})

    def error(self, message_id: Any, code: str, message: str) -> None:
        self.send(
            {
                "id": message_id,
                "type": "result",
                "success": False,
                "error": {"code": code, "message": message},
            }
        )

    def handle(self, message: Any) -> None:
        if not isinstance(message, dict):
            self.error(None, "invalid_format", "a message must be a JSON object")
            return
        message_id = message.get("id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            self.error(None, "invalid_format", "'id' must be an integer")
            return
        kind = message.get("type")
        if kind == "ping":
            self.send({"id": message_id, "type": "pong"})
        elif kind == "subscribe_events":
            self.subscribe(message_id, message.get("event_type", MATCH_ALL))
        elif kind == "unsubscribe_events":
            subscription = message.get("subscription")
            unsubscribe = self.subscriptions.pop(subscription, None)  # type: ignore[arg-type]
            if unsubscribe is None:
                self.error(message_id, "not_found", f"no subscription {subscription!r}")
            else:
                unsubscribe()
                self.result(message_id)
        else:
            self.error(message_id, "unknown_command", f"unknown command type {kind!r}")

    def subscribe(self, message_id: int, event_type: Any) -> None:
        if not isinstance(event_type, str) or not event_type:
            self.error(message_id, "invalid_format", "'event_type' must be a non-empty string")
            return
        if message_id in self.subscriptions:
            self.error(message_id, "id_reused", f"id {message_id} is already a subscription")
            return

        def forward(event: Event) -> None:
            if event.type in PRIVATE_EVENTS:
                return
            self.send({"id": message_id, "type": "event", "event": event.as_dict()})

        self.subscriptions[message_id] = self.hub.bus.listen(event_type, forward)
        self.result(message_id)


async def _refuse(socket: web.WebSocketResponse, reason: str) -> None:
    await socket.send_str(dumps({"type": "auth_invalid", "message": reason}).decode())
    await socket.close()


def register(hub: Hub, registrar: Registrar) -> None:
    async def websocket_api(request: web.Request) -> web.StreamResponse:
        """Events API: auth phase, then subscribe_events / unsubscribe_events / ping."""
        socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE_BYTES)
        await socket.prepare(request)
        authenticated = await authenticate_socket(hub, socket, {"hub_version": __version__})
        if authenticated is None:
            return socket
        principal, token = authenticated
        connection = _Connection(hub, socket, principal)
        writer = asyncio.create_task(connection.writer())

        async def end_session(code: int, reason: str) -> None:
            # Nothing more reaches a client whose right ended, even while the close runs.
            connection.close_subscriptions()
            await socket.close(code=code, message=reason.encode())

        guard = SessionGuard(hub, principal, token, end_session)
        guard.start()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    if message.type == WSMsgType.BINARY:
                        connection.error(None, "invalid_format", "binary frames are not accepted")
                    continue
                try:
                    data = parse_json_bytes(message.data.encode())
                except ValueError as error:
                    connection.error(None, "invalid_format", str(error))
                    continue
                connection.handle(data)
        finally:
            guard.stop()
            connection.close_subscriptions()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return socket

    # Authentication happens inside the socket (a browser cannot set headers on an
    # upgrade), so the route itself is public and the auth phase is mandatory.
    registrar.http_route(
        "GET",
        "/api/websocket",
        websocket_api,
        auth=PUBLIC,
        websocket=True,
        tags=("websocket",),
        description='Authenticate with {"type": "auth", "access_token": ...} after auth_required.',
    )
