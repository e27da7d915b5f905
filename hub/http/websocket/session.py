"""The auth phase and the session guard every authenticated socket of the hub shares.

``/api/websocket`` and the provisioning feed (``plugins/ble_provisioning``) both
authenticate in-band, because a browser cannot set headers on a WebSocket upgrade: the
server says ``auth_required``, the client answers ``{"type": "auth", "access_token":
...}``, checked by the same ``user`` scheme as the HTTP routes (JWTs and ``shub_`` API
tokens alike).

A socket lives only as long as the right to it (``SessionGuard``): it is closed with
``CLOSE_SESSION_EXPIRED`` when its credential's ``expires_at`` passes, and with
``CLOSE_SESSION_REVOKED`` as soon as an auth scheme fires ``SESSIONS_REVOKED`` for its
principal, or a periodic re-check of its token fails. The core learns nothing about
users, only principals and one event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from hub.auth import CLOSE_SESSION_EXPIRED, CLOSE_SESSION_REVOKED, Principal
from hub.event_bus import Event
from hub.events import SESSIONS_REVOKED, SessionsRevokedData
from hub.http.errors import ApiError
from hub.http.json import dumps, parse_json_bytes

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
# How often a live socket's token is checked again with its scheme. Revocations made in
# this process end sockets at once (SESSIONS_REVOKED); this bounds how long one made by
# another process (the CLI on the same database) goes unnoticed.
RECHECK_INTERVAL = 60.0
# RFC 6455 limits a close frame's reason to 123 bytes.
MAX_CLOSE_REASON_BYTES = 123
# What the client sent instead of a message: it went away during the auth phase.
_GONE = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)

# A coroutine function: the close runs as a hub task (Hub.create_task takes a coroutine).
SocketCloser = Callable[[int, str], Coroutine[Any, Any, None]]


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

    def _on_revoked(self, event: Event[SessionsRevokedData]) -> None:
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
    "access_token": ...}`` and checks it with the ``user`` scheme; answers ``auth_ok``
    (with ``hello``'s fields too, as Home Assistant repeats ``ha_version``) and returns
    the principal and its token, or answers ``auth_invalid``, closes the socket and
    returns None. A client that leaves during this phase is no error of the hub's: it
    is logged at debug level and None is returned.
    """
    extra = hello or {}
    try:
        await socket.send_frame(dumps({"type": "auth_required", **extra}), WSMsgType.TEXT)
        message = await socket.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await _refuse(socket, f"no auth message within {AUTH_TIMEOUT:g} s")
        return None
    except ConnectionError:
        _LOGGER.debug("A client left %s during the auth phase", socket)
        return None
    if message.type in _GONE:
        _LOGGER.debug("A client closed its socket during the auth phase (%s)", message.type)
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
    try:
        await socket.send_frame(dumps({"type": "auth_ok", **extra}), WSMsgType.TEXT)
    except ConnectionError:
        _LOGGER.debug("A client left right after authenticating")
        return None
    return principal, token


async def _refuse(socket: web.WebSocketResponse, reason: str) -> None:
    """Say ``auth_invalid`` and close; quietly, if the client is already gone."""
    try:
        await socket.send_frame(dumps({"type": "auth_invalid", "message": reason}), WSMsgType.TEXT)
        await socket.close()
    except ConnectionError:
        _LOGGER.debug("A client left before hearing why its auth failed: %s", reason)
