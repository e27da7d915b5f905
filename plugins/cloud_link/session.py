"""One authenticated connection: the auth handshake, the read loop and the heartbeat.

A session ends on the first thing that goes wrong (socket closed, no pong, the cloud
withdrawing its acceptance) and says why; reconnecting is the caller's job. Nothing a
frame contains can end it: unreadable frames are answered per JSON-RPC and reading goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from plugins.cloud_link.frames import AUTH_OK, FrameKind, classify
from plugins.cloud_link.jsonrpc import ConnectionClosed, JsonRpcPeer
from plugins.cloud_link.socket import SocketClosed, WebSocket, receive_data

_LOGGER = logging.getLogger(__name__)

MAX_REASON_CHARS = 200


class AuthRejected(Exception):
    """The cloud answered ``auth_failed``; retrying soon with the same token is pointless."""


@dataclass(frozen=True, slots=True)
class SessionEnd:
    reason: str
    auth_rejected: bool = False


async def authenticate(ws: WebSocket, token: str, *, within: float, max_frame_bytes: int) -> None:
    """Send the station token and wait for the verdict.

    Frames other than the verdict are ignored: before ``auth_ok`` the cloud is not yet
    trusted, so nothing it sends may reach a handler (fail closed).
    """
    await ws.send_str(orjson.dumps({"type": "auth", "token": token}).decode())
    async with asyncio.timeout(within):
        while True:
            frame = classify(await receive_data(ws, on_pong=_ignore), max_frame_bytes)
            if frame.kind is FrameKind.AUTH:
                if frame.payload["type"] == AUTH_OK:
                    return
                raise AuthRejected(_auth_reason(frame.payload))
            _LOGGER.warning("Ignored a %s frame received before auth_ok", frame.kind.value)


class CloudSession:
    def __init__(
        self,
        ws: WebSocket,
        peer: JsonRpcPeer,
        on_legacy: Callable[[dict[str, Any]], None],
        *,
        heartbeat_interval: float,
        max_frame_bytes: int,
    ) -> None:
        self.ws = ws
        self.peer = peer
        self._on_legacy = on_legacy
        self._heartbeat_interval = heartbeat_interval
        self._max_frame_bytes = max_frame_bytes
        self._awaiting_pong = False
        self._stop: asyncio.Future[SessionEnd] | None = None
        self.pings_sent = 0

    async def run(self) -> SessionEnd:
        """Serve until the connection ends; always closes the socket and fails pending calls."""
        self._stop = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(self._read(), name="cloud_link.read")
        heartbeat = asyncio.create_task(self._heartbeat(), name="cloud_link.heartbeat")
        end = SessionEnd("the station stopped the link")
        try:
            done, _ = await asyncio.wait(
                {reader, heartbeat, self._stop}, return_when=asyncio.FIRST_COMPLETED
            )
            end = self._stop.result() if self._stop.done() else _first_end(done)
            return end
        finally:
            for task in (reader, heartbeat):
                task.cancel()
            await asyncio.gather(reader, heartbeat, return_exceptions=True)
            self.peer.close(end.reason)
            await self.ws.close()

    def stop(self, reason: str) -> None:
        """End the session from outside (token changed, hub stopping)."""
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(SessionEnd(reason))

    async def _read(self) -> SessionEnd:
        while True:
            try:
                data = await receive_data(self.ws, on_pong=self._pong_received)
            except SocketClosed as closed:
                return SessionEnd(str(closed))
            frame = classify(data, self._max_frame_bytes)
            if frame.kind is FrameKind.RPC:
                self.peer.dispatch(frame.payload)
            elif frame.kind is FrameKind.LEGACY:
                self._on_legacy(frame.payload)
            elif frame.kind is FrameKind.AUTH:
                if frame.payload["type"] != AUTH_OK:
                    return SessionEnd(_auth_reason(frame.payload), auth_rejected=True)
            else:
                assert frame.error is not None
                _LOGGER.info("Answered an unreadable frame from the cloud: %s", frame.error)
                try:
                    await self.peer.reply_error(frame.error)
                except ConnectionClosed:
                    return SessionEnd("the connection closed while answering")

    async def _heartbeat(self) -> SessionEnd:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            if self._awaiting_pong:
                return SessionEnd(
                    f"no pong within {self._heartbeat_interval:g} s; connection terminated"
                )
            self._awaiting_pong = True
            try:
                # A cloud that stopped reading can block the write; that is a dead link too.
                async with asyncio.timeout(self._heartbeat_interval):
                    await self.ws.ping()
            except (ConnectionError, RuntimeError, TimeoutError) as error:
                return SessionEnd(f"ping failed: {error or 'write blocked'}")
            self.pings_sent += 1

    def _pong_received(self) -> None:
        self._awaiting_pong = False


def _first_end(done: set[asyncio.Future[Any]]) -> SessionEnd:
    task = next(iter(done))
    error = task.exception()
    if error is None:
        return task.result()
    _LOGGER.error("Cloud session failed unexpectedly", exc_info=error)
    return SessionEnd(f"internal error: {error!r}")


def _auth_reason(payload: dict[str, Any]) -> str:
    """The cloud's reason, cut short: it ends up in logs and in the status API."""
    for key in ("reason", "error", "message"):
        if isinstance(payload.get(key), str):
            return f"auth_failed: {payload[key][:MAX_REASON_CHARS]}"
    return "auth_failed: the cloud refused the station token"


def _ignore() -> None:
    return None
