"""The integration's working parts for one hub, built at register time, started at setup.

Routes exist (and the HTTP server answers) before ``hub_setup`` runs, so handlers ask
``require_running`` and get a clear 503 until the automations are loaded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub.http.errors import ApiError

from .automation import Automation
from .engine import Engine, builtin_platforms
from .store import AutomationStore

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)


class AutomationRuntime:
    def __init__(self, hub: Hub, yaml_automations: list[dict[str, Any]]) -> None:
        self.hub = hub
        self.engine = Engine(hub)
        self._yaml = yaml_automations
        self._store: AutomationStore | None = None

    async def start(self) -> None:
        """Collect the types, set up YAML then stored automations, and start watching."""
        self.engine.platforms = builtin_platforms()
        self.engine.collect_platforms()
        for config in self._yaml:
            self.engine.add(config, origin="yaml")
        self._store = AutomationStore(self.hub.db.require_engine())
        for config in await self._store.load():
            if config.get("id") in self.engine.automations:
                _LOGGER.error(
                    "Automation %s from the database is ignored: the YAML defines that id",
                    config.get("id"),
                )
                continue
            self.engine.add(config, origin="api")
        self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()
        self._store = None

    def require_running(self) -> AutomationStore:
        if self._store is None:
            raise ApiError(503, "automation_not_ready", "the automation integration is not running")
        return self._store

    async def save(self, config: dict[str, Any]) -> Automation:
        """Store an API automation (as received) and set it up in place of the old one."""
        await self.require_running().save(config)
        return self.engine.add(config, origin="api")

    async def stored(self, automation_id: str) -> dict[str, Any]:
        for config in await self.require_running().load():
            if config.get("id") == automation_id:
                return config
        raise ApiError(404, "automation_not_found", f"no automation with id {automation_id!r}")

    async def delete(self, automation_id: str) -> None:
        await self.require_running().delete(automation_id)
        self.engine.remove(automation_id)

    def health(self) -> dict[str, Any]:
        return self.engine.health()
