"""Fixtures: the gateway double on loopback, a migrated SQLite file, a hub with the integration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

import plugins.iot_gateway as iot_gateway
from hub.db.database import Database
from hub.testing import static_auth
from tests.iot_gateway.gateway_double import APP_ID, APP_SECRET, MIGRATIONS, USERS, GatewayDouble


@pytest_asyncio.fixture
async def gateway():
    double = GatewayDouble()
    server = TestServer(double.app(), host="127.0.0.1")
    await server.start_server()
    double.server = server
    try:
        yield double
    finally:
        double.release_all()
        await server.close()


@pytest_asyncio.fixture
async def database(tmp_path):
    """A real SQLite file with the integration's migrations applied."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await db.start()
    await db.upgrade(MIGRATIONS, "iot_gateway")
    try:
        yield db
    finally:
        await db.stop()


StartHub = Callable[..., Awaitable[Any]]


@pytest.fixture
def start_hub(hub_factory, gateway) -> StartHub:
    """Start a real hub with the integration and the static test auth scheme."""

    async def start(
        iot: dict[str, Any] | None = None, *, config_dir: Any = None, **hub_options: Any
    ) -> Any:
        settings = {
            "base_url": gateway.base_url,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
        }
        settings.update(iot or {})
        config = {
            "hub": hub_options,
            "static_auth": {"users": USERS},
            "iot_gateway": {key: value for key, value in settings.items() if value is not None},
        }
        return await hub_factory(
            config,
            config_dir=config_dir,
            integrations={"iot_gateway": iot_gateway, "static_auth": static_auth},
        )

    return start
