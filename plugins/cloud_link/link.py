"""The connection loop: keep one outbound WebSocket to the cloud, come what may.

Reading order: ``run`` picks the token and URL → ``_attempt`` connects, authenticates and
serves one session → ``run`` decides how long to wait (backoff, or the slow auth retry)
→ again. Every state change lands in ``status`` for GET /api/cloud/status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from hub.backoff import Backoff
from plugins.cloud_link.config import LinkSettings
from plugins.cloud_link.const import (
    STATE_AUTH_FAILED,
    STATE_AUTHENTICATING,
    STATE_BACKOFF,
    STATE_CONNECTED,
    STATE_CONNECTING,
    STATE_NOT_CONFIGURED,
)
from plugins.cloud_link.jsonrpc import JsonRpcPeer
from plugins.cloud_link.jsonrpc.peer import MethodLookup
from plugins.cloud_link.outbox import Outbox
from plugins.cloud_link.session import AuthRejected, CloudSession, SessionEnd, authenticate
from plugins.cloud_link.socket import SocketClosed, WebSocket, open_socket
from plugins.cloud_link.status import LinkStatus
from plugins.cloud_link.store import Claim

_LOGGER = logging.getLogger(__name__)

CONNECT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


class CloudLink:
    def __init__(
        self,
        settings: LinkSettings,
        *,
        lookup: MethodLookup,
        on_legacy: Callable[[dict[str, Any]], None],
        outbox: Outbox,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.status = LinkStatus()
        self._lookup = lookup
        self._on_legacy = on_legacy
        self._outbox = outbox
        self._policy = backoff or Backoff(settings.backoff)
        self._claim: Claim | None = None
        self._wakeup = asyncio.Event()
        self._session: CloudSession | None = None
        self._session_token: str | None = None

    # --- the claim ------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        """A claim made on this station wins over a token written in the YAML."""
        if self._claim is not None:
            return self._claim.station_token
        return self.settings.configured_token

    def set_claim(self, claim: Claim | None) -> None:
        """Use a new claim (or none) from now on; a session on another token is ended."""
        self._claim = claim
        self.status.claimed_at = claim.claimed_at if claim else None
        if self._session is not None and self._session_token != self.token:
            self._session.stop("the station token changed")
        self._wakeup.set()

    @property
    def peer(self) -> JsonRpcPeer | None:
        """The live session's peer, for calling the cloud; None while disconnected."""
        return self._session.peer if self._session is not None else None

    # --- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        async with aiohttp.ClientSession() as http:
            while True:
                url, token = self.settings.url, self.token
                if url is None or token is None:
                    self.status.enter(STATE_NOT_CONFIGURED, error=self.settings.url_error)
                    await self._pause(None, token)
                    continue
                try:
                    end = await self._attempt(http, url, token)
                except Exception as error:
                    # A bug must cost one connection, never the link for good.
                    _LOGGER.exception("Cloud link attempt failed unexpectedly")
                    end = SessionEnd(f"internal error: {error!r}")
                loop_time = asyncio.get_running_loop().time()
                if end.auth_rejected:
                    delay = self.settings.auth_retry
                    _LOGGER.error("The cloud refused the station token (%s)", end.reason)
                    self.status.enter(
                        STATE_AUTH_FAILED, error=end.reason, retry_at=loop_time + delay
                    )
                else:
                    delay = self._policy.next_delay()
                    _LOGGER.info("Cloud link down (%s); retrying in %.1f s", end.reason, delay)
                    self.status.enter(STATE_BACKOFF, error=end.reason, retry_at=loop_time + delay)
                await self._pause(delay, token)

    async def _attempt(self, http: aiohttp.ClientSession, url: str, token: str) -> SessionEnd:
        settings = self.settings
        self.status.enter(STATE_CONNECTING)
        try:
            ws = await open_socket(
                http,
                url,
                connect_timeout=settings.connect_timeout,
                close_timeout=settings.close_timeout,
                max_frame_bytes=settings.max_frame_bytes,
            )
        except CONNECT_ERRORS as error:
            return SessionEnd(f"connect failed: {_describe(error)}")
        self.status.enter(STATE_AUTHENTICATING)
        try:
            await authenticate(
                ws, token, within=settings.auth_timeout, max_frame_bytes=settings.max_frame_bytes
            )
        except AuthRejected as rejected:
            await ws.close()
            return SessionEnd(str(rejected), auth_rejected=True)
        except (*CONNECT_ERRORS, SocketClosed) as error:
            await ws.close()
            return SessionEnd(f"auth handshake failed: {_describe(error)}")
        except BaseException:
            await ws.close()
            raise
        return await self._serve(ws, token)

    async def _serve(self, ws: WebSocket, token: str) -> SessionEnd:
        settings = self.settings
        peer = JsonRpcPeer(ws.send_str, self._lookup, limits=settings.peer_limits, source="cloud")
        session = CloudSession(
            ws,
            peer,
            self._on_legacy,
            heartbeat_interval=settings.heartbeat_interval,
            max_frame_bytes=settings.max_frame_bytes,
        )
        self._session, self._session_token = session, token
        self.status.enter(STATE_CONNECTED)
        _LOGGER.info("Cloud link connected to %s", settings.url)
        started = asyncio.get_running_loop().time()
        self._outbox.attach(peer)
        try:
            end = await session.run()
        finally:
            self._outbox.detach(peer)
            self._session = self._session_token = None
        self._policy.connection_ended(asyncio.get_running_loop().time() - started)
        return end

    async def _pause(self, delay: float | None, token_used: str | None) -> None:
        """Wait ``delay`` seconds (None: until woken); a new claim cuts the wait short."""
        if self.token != token_used:
            return
        self._wakeup.clear()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
        # arrives as the wait ends, and a link being stopped would dial again.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wakeup.wait()


def _describe(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, TimeoutError) and not text:
        return "timed out"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
