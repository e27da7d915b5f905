"""The auth integration on PostgreSQL (skipped when no server answers on loopback).

Uses its own database so it never touches what other suites keep in theirs.
"""

from __future__ import annotations

import os
import socket

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from plugins.auth import CloudMember, ConflictError, get_user_store
from tests.auth.conftest import PASSWORD, hub_config, make_cast

DATABASE = "station_hub_auth_test"
TABLES = [
    "api_tokens",
    "refresh_tokens",
    "station_members",
    "stations",
    "users",
    "alembic_version_auth",
    "commands",
    "device_events",
    "device_state_history",
    "devices",
    "device_types",
    "alembic_version_hub",
]


async def _fresh_database() -> str:
    server = make_url(
        os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    )
    try:
        with socket.create_connection((server.host or "127.0.0.1", server.port or 5432), 0.5):
            pass
    except OSError:
        pytest.skip("no PostgreSQL server on loopback")
    admin = create_async_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            exists = await connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": DATABASE}
            )
            if exists.first() is None:
                await connection.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
    except Exception as error:  # reachable port but unusable server
        pytest.skip(f"PostgreSQL not usable: {error}")
    finally:
        await admin.dispose()
    url = server.set(database=DATABASE)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for table in TABLES:
                await connection.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    finally:
        await engine.dispose()
    return url.render_as_string(hide_password=False)


@pytest.mark.postgres
async def test_auth_on_postgresql(hub_factory, integrations, hub_client):
    url = await _fresh_database()
    hub = await hub_factory(hub_config(database={"url": url}), integrations=integrations)
    assert hub.db.engine.dialect.name == "postgresql"
    cast = await make_cast(hub, password=PASSWORD)
    store = get_user_store(hub)
    client = await hub_client(hub)

    async with client.post(
        "/api/auth/login", json={"username": "mia", "password": PASSWORD}
    ) as response:
        assert response.status == 200
        tokens = await response.json()
    async with client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ) as response:
        assert response.status == 200
    async with client.get(
        "/api/test/station", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ) as response:
        assert response.status == 200

    await store.sync_identity(
        [CloudMember("c-1", "carla", station_role="admin")], station_name="PG Station"
    )
    with pytest.raises(ConflictError):
        await store.create_user("carla", "user")
    _, secret = await cast.sessions.create_api_token(cast.member.id, "pg script")
    assert await store.delete_user(cast.member.id)
    async with client.get(
        "/api/test/user", headers={"Authorization": f"Bearer {secret}"}
    ) as response:
        assert response.status == 401
    assert (await store.get_station()).name == "PG Station"
