"""Whether the upstream gateway answers, shown as the integration's state.

A proxy that reports ``running`` while every call fails with 502 hides the one fact the
operator needs. The hub checks at set-up that something accepts TCP connections at the
gateway's address (a connection only: no request, so nothing happens upstream), and after
that learns from every call: a call that reaches the gateway makes the integration
``running``, one that cannot reach it makes it ``unavailable`` with the reason. While
unavailable, the address is re-checked every ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from yarl import URL

_LOGGER = logging.getLogger(__name__)

RECHECK_INTERVAL = 30.0

# (reachable, reason when not) -> None
Reporter = Callable[[bool, str | None], None]


class Reachability:
    def __init__(self, base_url: URL, timeout: float, report: Reporter) -> None:
        self.host = base_url.host or ""
        self.port = base_url.explicit_port or (443 if base_url.scheme == "https" else 80)
        self._timeout = timeout
        self._report = report
        self.reachable: bool | None = None
        self.reason: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def probe(self) -> bool:
        """Open and close one TCP connection to the gateway; record what happened."""
        try:
            async with asyncio.timeout(self._timeout):
                _reader, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError:
            self.seen(False, f"no answer within {self._timeout:g} s")
        except OSError as error:
            self.seen(False, error.strerror or str(error))
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self.seen(True)
        return bool(self.reachable)

    def seen(self, reachable: bool, detail: str | None = None) -> None:
        """What a probe or a real call learned; reported only when it changes."""
        reason = (
            None
            if reachable
            else (
                f"the IoT gateway at {self.address} does not answer ({detail}); every "
                "/api/iot call answers 502 until it does. Check iot_gateway.base_url."
            )
        )
        if reachable == self.reachable and (reachable or reason == self.reason):
            return
        if reachable and self.reachable is False:
            _LOGGER.info("The IoT gateway at %s answers again", self.address)
        elif not reachable:
            _LOGGER.warning("%s", reason)
        self.reachable, self.reason = reachable, reason
        self._report(reachable, reason)

    async def watch(self, interval: float = RECHECK_INTERVAL) -> None:
        """Re-check the address while the gateway is unreachable (a background task)."""
        while True:
            await asyncio.sleep(interval)
            if self.reachable is False:
                await self.probe()
