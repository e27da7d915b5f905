"""The station portal: a web page for the people who run the station (docs/portal.md).

Served at ``/`` as static ES modules from this package (no build step), it speaks only
the hub's public APIs: HTTP under ``/api`` and the WebSocket API. Its one table holds the
dashboards users arrange. Other integrations add pages through ``hub_frontend_panels``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.hookspecs import hookimpl
from hub.integrations import RUNNING, SETTING_UP, UNAVAILABLE
from hub.runtime_data import RuntimeKey

from .const import DOMAIN
from .dashboards import DashboardStore, StoreRef, register_dashboard_routes
from .panels import Panel, PanelError, Panels, collect
from .static import PortalFiles, PortalViews, register_static_routes

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar

__all__ = ["Panel", "PanelError", "Panels"]

CONFIG_SCHEMA = vol.Any(None, vol.Schema({}))

#: Where the dashboard routes find their store once the database is up (setup fills it).
DASHBOARDS: RuntimeKey[StoreRef] = RuntimeKey(DOMAIN, "dashboards")


@hookimpl
def hub_config_schema() -> Any:
    return CONFIG_SCHEMA


@hookimpl
def hub_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    # Every configured integration is loaded before any hub_register runs, so the panels
    # of all of them (set up before or after this one) are collected here.
    panels = collect(hub, list(hub.integrations))
    ref = hub.runtime_data.set(DASHBOARDS, StoreRef())

    def running(name: str) -> bool:
        # An unavailable integration keeps its page: the page says what is missing.
        return hub.integration_state(name) in (RUNNING, UNAVAILABLE, SETTING_UP)

    register_static_routes(registrar, PortalViews(PortalFiles(), panels, running))
    register_dashboard_routes(registrar, ref, panels.widget_types)


@hookimpl
def hub_setup(hub: Hub, config: dict[str, Any]) -> None:
    hub.runtime_data[DASHBOARDS].store = DashboardStore(hub.db.require_engine())
