"""When to refresh the gateway token, and making sure only one refresh runs at a time.

Every caller asks ``valid_pair()`` before its upstream call. When the pair is close to
expiry, the first caller starts one renewal task and every other caller awaits that same
task, so a hundred concurrent requests cost the gateway one refresh. The task is shielded
from its callers' cancellation: a portal user closing the tab must not abort a refresh
halfway, after the gateway rotated the refresh token but before the hub saved it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .errors import GatewayError, TokenStoreFailed
from .token_api import TokenApi
from .token_store import TokenPair, TokenStore

_LOGGER = logging.getLogger(__name__)

RENEWAL_GRACE_SECONDS = 5.0


def wall_clock_ms() -> int:
    """Epoch milliseconds: expiry is persisted, so it must survive a restart."""
    return int(time.time() * 1000)


class TokenManager:
    def __init__(
        self,
        api: TokenApi,
        store: TokenStore,
        *,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._api = api
        self._store = store
        self._clock_ms = clock_ms
        self._pair: TokenPair | None = None
        self._loaded = False
        self._load_lock = asyncio.Lock()
        # A pair the gateway issued that could not be saved: kept, never used, saved first
        # on the next renewal so the refresh token it carries is not lost.
        self._unsaved: TokenPair | None = None
        self._renewal: asyncio.Task[TokenPair] | None = None
        self.refreshes = 0
        self.logins = 0
        # Callers currently awaiting the shared renewal (health report, load tests).
        self.waiting = 0

    @property
    def cached(self) -> TokenPair | None:
        """The pair in memory, without touching the database (for health reports)."""
        return self._pair

    async def current(self) -> TokenPair | None:
        """The pair in use, loading it from the database on first use."""
        if not self._loaded:
            async with self._load_lock:
                if not self._loaded:
                    self._pair = await self._store.load()
                    self._loaded = True
        return self._pair

    async def valid_pair(self) -> TokenPair:
        """A pair that is not due for refresh, renewing it first if needed.

        If a renewal fails while the current token has not expired yet, the current token
        is still good for the gateway, so it is used and the next call tries again.
        """
        pair = await self.current()
        if pair is not None and not pair.refresh_due(self._clock_ms()):
            return pair
        try:
            return await self._shared_renewal(rejected=None)
        except GatewayError as error:
            if pair is not None and not pair.expired(self._clock_ms()):
                _LOGGER.warning(
                    "Renewing the IoT gateway token failed (%s); the current token is used "
                    "until it expires",
                    error,
                )
                return pair
            raise

    async def access_token(self) -> str:
        return (await self.valid_pair()).access_token

    async def force_refresh(self, rejected: str) -> str:
        """A token other than ``rejected``, which the gateway just answered 401 to.

        Callers that got their 401 with an already replaced token get the replacement
        without another refresh, so a burst of 401s also costs one refresh.
        """
        pair = await self.current()
        if (
            pair is not None
            and pair.access_token != rejected
            and not pair.refresh_due(self._clock_ms())
        ):
            return pair.access_token
        return (await self._shared_renewal(rejected=rejected)).access_token

    async def stop(self) -> None:
        """Give a renewal in flight a moment to finish, so a rotated refresh token is saved.

        Bounded well inside the hub's shutdown timeout, so the session still gets closed.
        """
        task = self._renewal
        if task is not None:
            await asyncio.wait([task], timeout=RENEWAL_GRACE_SECONDS)

    async def _shared_renewal(self, *, rejected: str | None) -> TokenPair:
        task = self._renewal
        if task is None:
            task = asyncio.create_task(self._renew(rejected), name="iot-gateway-token-renewal")
            self._renewal = task
            task.add_done_callback(self._renewal_finished)
        self.waiting += 1
        try:
            return await asyncio.shield(task)
        finally:
            self.waiting -= 1

    def _renewal_finished(self, task: asyncio.Task[TokenPair]) -> None:
        if self._renewal is task:
            self._renewal = None
        if not task.cancelled():
            # Retrieved here so a renewal whose callers all left is not reported as an
            # unhandled exception; the callers that stayed get it from the shield.
            task.exception()

    async def _renew(self, rejected: str | None) -> TokenPair:
        if self._unsaved is not None:
            await self._adopt(self._unsaved)
        current = self._pair
        now = self._clock_ms()
        if current is not None:
            if rejected is None and not current.refresh_due(now):
                return current
            if rejected is not None and current.access_token != rejected:
                return current
        pair: TokenPair | None = None
        if current is not None and current.refresh_token:
            pair = await self._api.refresh(current.refresh_token, now)
            if pair is not None:
                self.refreshes += 1
        if pair is None:
            pair = await self._api.log_in(now)
            self.logins += 1
        await self._adopt(pair)
        _LOGGER.info(
            "IoT gateway token renewed; it expires in %d s",
            (pair.expires_at - pair.issued_at) // 1000,
        )
        return pair

    async def _adopt(self, pair: TokenPair) -> None:
        """Save, then use: a pair is never used before it is in the database."""
        try:
            await self._store.save(pair)
        except Exception as error:
            self._unsaved = pair
            _LOGGER.error(
                "Saving the renewed IoT gateway token failed (%s); it is kept in memory and "
                "saved before use on the next attempt",
                type(error).__name__,
            )
            raise TokenStoreFailed(
                "the renewed IoT gateway token could not be saved; try again shortly"
            ) from None
        self._unsaved = None
        self._pair = pair
        self._loaded = True
