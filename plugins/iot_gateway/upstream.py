"""Raw HTTP to the gateway: one shared session, bounded time, bounded size.

This layer knows nothing of tokens. It turns every way a call can fail into a
``GatewayError`` whose status is what the portal should see: 504 when the gateway is too
slow, 502 when it cannot be reached, or its answer is larger than the hub will relay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy

from .config import GatewaySettings
from .errors import (
    GatewayNotConfigured,
    GatewayResponseTooLarge,
    GatewayTimeout,
    GatewayUnreachable,
)

_LOGGER = logging.getLogger(__name__)

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class UpstreamClient:
    """Sends requests to the fixed upstream paths named by key in ``GatewaySettings``."""

    def __init__(
        self,
        settings: GatewaySettings,
        on_reach: Callable[[bool, str | None], None] | None = None,
    ) -> None:
        """``on_reach(reachable, detail)`` learns after each call whether the gateway
        could be reached at all (any HTTP answer counts as reached)."""
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._on_reach = on_reach

    async def start(self) -> None:
        if self._session is not None:
            return
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=self.settings.timeout, sock_connect=self.settings.connect_timeout
            ),
            # Bodies are relayed byte for byte, compressed or not.
            auto_decompress=False,
            # A cookie the gateway sets for one portal user must never ride along with the
            # next user's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Only the configured base URL is ever contacted; no proxy from the environment.
            trust_env=False,
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(
        self,
        key: str,
        *,
        method: str = "POST",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse:
        """Call the upstream path ``key``; redirects are returned, never followed."""
        session = self._session
        if session is None:
            raise GatewayNotConfigured(
                "the IoT gateway client is not running (the hub is starting or stopping)"
            )
        url = self.settings.url(key)
        skip = () if headers and "Content-Type" in headers else ("Content-Type",)
        started = time.perf_counter()
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                skip_auto_headers=skip,
            ) as response:
                data = await self._read_capped(response, key)
                status, response_headers = response.status, response.headers
        except TimeoutError:
            self._reached(False, f"no answer within {self.settings.timeout:g} s")
            raise GatewayTimeout(
                f"the IoT gateway did not answer {key} within {self.settings.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            self._reached(False, f"{type(error).__name__}: {error}")
            raise GatewayUnreachable(
                f"the IoT gateway at {self.settings.base_url.host} could not be reached "
                f"({type(error).__name__}: {error})"
            ) from None
        self._reached(True)
        _LOGGER.debug(
            "%s %s -> %d (%d bytes, %.0f ms)",
            method,
            key,
            status,
            len(data),
            (time.perf_counter() - started) * 1000,
        )
        return UpstreamResponse(status, response_headers, data)

    def _reached(self, reachable: bool, detail: str | None = None) -> None:
        if self._on_reach is not None:
            self._on_reach(reachable, detail)

    async def _read_capped(self, response: aiohttp.ClientResponse, key: str) -> bytes:
        limit = self.settings.max_response_bytes
        declared = response.content_length
        if declared is not None and declared > limit:
            raise GatewayResponseTooLarge(
                f"the IoT gateway's answer to {key} is {declared} bytes; the limit is {limit}"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise GatewayResponseTooLarge(
                    f"the IoT gateway's answer to {key} exceeds the limit of {limit} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)
