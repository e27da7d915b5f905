"""The integration's working parts for one hub, built at register time, started at setup.

Routes are registered (and the HTTP server starts) before ``hub_setup`` runs, so every
handler asks this object for what it needs and gets a clear 503 until setup finished.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.timestamps import iso

from .config import GatewaySettings
from .errors import GatewayNotConfigured
from .gateway import Gateway
from .objects_store import ObjectStore
from .reachability import Reachability, Reporter
from .token_api import TokenApi
from .token_manager import TokenManager
from .token_store import TokenStore
from .upstream import UpstreamClient


class IotGatewayRuntime:
    def __init__(self, settings: GatewaySettings, report: Reporter | None = None) -> None:
        """``report(reachable, reason)`` is told when the gateway stops or starts answering
        (the integration turns it into its state at GET /api/health)."""
        self.settings = settings
        self.reachability = Reachability(
            settings.base_url, settings.connect_timeout, report or (lambda _ok, _why: None)
        )
        self.client = UpstreamClient(settings, on_reach=self.reachability.seen)
        self._gateway: Gateway | None = None
        self._objects: ObjectStore | None = None

    async def start(self, engine: AsyncEngine) -> None:
        await self.client.start()
        api = TokenApi(self.client, self.settings.app_id, self.settings.app_secret)
        self._gateway = Gateway(self.client, TokenManager(api, TokenStore(engine)))
        self._objects = ObjectStore(engine)

    async def stop(self) -> None:
        gateway, self._gateway = self._gateway, None
        self._objects = None
        if gateway is not None:
            await gateway.tokens.stop()
        await self.client.close()

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            raise GatewayNotConfigured("the IoT gateway integration is not running yet")
        return self._gateway

    @property
    def objects(self) -> ObjectStore:
        if self._objects is None:
            raise GatewayNotConfigured("the IoT gateway integration is not running yet")
        return self._objects

    def health(self) -> dict[str, Any]:
        """Shown at GET /api/health: when the token expires and how often it was renewed."""
        if self._gateway is None:
            return {"baseUrl": str(self.settings.base_url), "running": False}
        tokens = self._gateway.tokens
        pair = tokens.cached
        return {
            "baseUrl": str(self.settings.base_url),
            "running": True,
            "reachable": self.reachability.reachable,
            "tokenExpiresAt": iso(pair.expires_at / 1000) if pair else None,
            "tokenRefreshes": tokens.refreshes,
            "tokenLogins": tokens.logins,
            "tokenRenewalWaiters": tokens.waiting,
        }
