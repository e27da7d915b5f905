"""The auth integration on PostgreSQL (skipped when no server answers on loopback).

Runs in a throwaway database of its own (``postgres_database`` from hub.testing).
"""

from __future__ import annotations

import pytest

from plugins.auth import CloudMember, ConflictError, get_user_store
from tests.auth.conftest import PASSWORD, hub_config, make_cast


@pytest.mark.postgres
async def test_auth_on_postgresql(postgres_database, hub_factory, integrations, hub_client):
    hub = await hub_factory(
        hub_config(database={"url": postgres_database}), integrations=integrations
    )
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
    # Unique ignoring case on PostgreSQL too, non-ASCII letters included (lower() would
    # fold them on PostgreSQL but not on SQLite; the hub folds them itself).
    await store.create_user("Élodie", "user")
    with pytest.raises(ConflictError):
        await store.create_user("éLODIE", "user")
    elodie = await store.get_user_by_username("ÉLODIE")
    assert elodie is not None
    assert elodie.username == "Élodie"
    _, secret = await cast.sessions.create_api_token(cast.member.id, "pg script")
    assert await store.delete_user(cast.member.id)
    async with client.get(
        "/api/test/user", headers={"Authorization": f"Bearer {secret}"}
    ) as response:
        assert response.status == 401
    station = await store.get_station()
    assert station is not None
    assert station.name == "PG Station"
