"""The same tables and statements on PostgreSQL (skipped when no server answers)."""

from __future__ import annotations

import pytest
from yarl import URL

from hub.db.database import Database
from plugins.iot_gateway.config import GatewaySettings
from plugins.iot_gateway.gateway import Gateway
from plugins.iot_gateway.objects_store import DuplicateCode, ObjectStore
from plugins.iot_gateway.token_api import TokenApi
from plugins.iot_gateway.token_manager import TokenManager
from plugins.iot_gateway.token_store import TokenStore
from plugins.iot_gateway.upstream import UpstreamClient
from tests.iot_gateway.gateway_double import APP_ID, APP_SECRET, MIGRATIONS, auth

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_database(postgres_database):
    database = Database(postgres_database)
    await database.start()
    try:
        await database.upgrade(MIGRATIONS, "iot_gateway")
        yield database
    finally:
        await database.stop()


async def test_tokens_on_postgresql(pg_database, gateway):
    settings = GatewaySettings(base_url=URL(gateway.base_url), app_id=APP_ID)
    client = UpstreamClient(settings)
    await client.start()
    try:
        store = TokenStore(pg_database.require_engine())
        tokens = TokenManager(TokenApi(client, APP_ID, APP_SECRET), store)
        answer = await Gateway(client, tokens).call("codes_values", body=b"{}")
        assert answer.status == 200
        gateway.revoke_access_tokens()
        assert (await Gateway(client, tokens).call("codes_values", body=b"{}")).status == 200
        saved = await store.load()
        assert saved is not None and saved.access_token == gateway.issued[-1]["accessToken"]
        assert saved.expires_at > 1_700_000_000_000  # BIGINT keeps epoch milliseconds
    finally:
        await client.close()


async def test_objects_on_postgresql(pg_database):
    store = ObjectStore(pg_database.require_engine())
    created = await store.create({"code": "A", "name": "a", "metadata": {"unit": "kWh"}})
    with pytest.raises(DuplicateCode):
        await store.create({"code": "A", "name": "again"})
    result = await store.upsert_by_code(
        [{"code": "A", "metadata": {"unit": "Wh"}}, {"code": "B", "type": "meter"}]
    )
    assert (result.created, result.updated) == (1, 1)
    items, total = await store.list()
    assert total == 2 and items[0]["id"] == created["id"]
    assert items[0]["metadata"] == {"unit": "Wh"} and items[1]["type"] == "meter"
    assert await store.delete(created["id"]) is True


async def test_a_nul_in_an_object_is_a_400_not_a_500(postgres_database, start_hub, hub_client):
    """PostgreSQL cannot store NUL in text; the hub refuses it before any statement."""
    hub = await start_hub(database={"url": postgres_database})
    assert hub.db.require_engine().dialect.name == "postgresql"
    client = await hub_client(hub)
    owner = auth("owner")
    for body in (
        {"code": "B1.T01", "name": "Boiler\x00flow"},
        {"code": "B1\x00T01", "name": "Boiler flow"},
        {"code": "B1.T01", "name": "Boiler flow", "metadata": {"unit\x00": "°C"}},
    ):
        async with client.post("/api/iot/objects", json=body, headers=owner) as response:
            assert response.status == 400, body
            assert "NUL" in (await response.json())["error"]["message"]
    for path in ("/api/iot/objects/a%00b", "/api/iot/objects?type=a%00b"):
        async with client.get(path, headers=owner) as response:
            assert response.status == 400, path
    async with client.post(
        "/api/iot/objects", json={"code": "B1.T01", "name": "Boiler flow"}, headers=owner
    ) as response:
        assert response.status == 201
