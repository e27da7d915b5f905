"""Text the database cannot store, and numbers ``int()`` is too generous with.

A NUL (or a lone surrogate) in a JSON string, a path parameter or a query value is refused
with a 400 by the core before any handler runs; on PostgreSQL it used to end in a 500 from
the driver. Run on SQLite always and on PostgreSQL when a server answers on loopback.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.core import Hub
from plugins.auth import get_user_store, runtime_for

SECRET = "test-secret-that-is-long-enough-for-hs256-and-for-hs512-0123456789"
FAST_HASHING = {"time_cost": 1, "memory_kib": 8192, "parallelism": 1}
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JWT_SECRET", "HUB_JWT_SECRET", "AGENT_TOKEN", "HUB_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)


async def auth_hub(hub_factory: Any, database_url: str | None) -> tuple[Hub, str]:
    core: dict[str, Any] = {"database": {"url": database_url}} if database_url else {}
    hub = await hub_factory(
        {"hub": core, "auth": {"jwt_secret": SECRET, "password_hashing": FAST_HASHING}}
    )
    owner = await get_user_store(hub).create_user("olivia", "owner", password=PASSWORD)
    runtime = runtime_for(hub)
    assert runtime is not None
    return hub, runtime.codec.issue(owner.id, owner.role)


async def assert_nul_refused(hub: Hub, hub_client: Any, token: str) -> None:
    client = await hub_client(hub)
    bearer = {"Authorization": f"Bearer {token}"}
    # Login username (reaches the users table).
    async with client.post(
        "/api/auth/login", json={"username": "oli\x00via", "password": PASSWORD}
    ) as response:
        assert response.status == 400
        body = await response.json()
    assert body["error"]["code"] == "invalid_json"
    assert "NUL" in body["error"]["message"]
    # A NUL as a key, deep inside a value.
    async with client.post(
        "/api/auth/login", json={"username": "olivia", "password": PASSWORD, "x\x00": 1}
    ) as response:
        assert response.status == 400
    # A lone surrogate cannot be stored either; the JSON parser refuses it.
    async with client.post(
        "/api/auth/login",
        data=b'{"username": "\\ud800", "password": "x"}',
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_json"
    # A user id in the path.
    async with client.get("/api/auth/users/ab%00cd", headers=bearer) as response:
        assert response.status == 400
        body = await response.json()
    assert body["error"]["code"] == "invalid_path"
    assert "NUL" in body["error"]["message"]
    # A query value, and a query key.
    for query in ("limit=1%00", "a%00=1"):
        async with client.get(f"/api/auth/users?{query}", headers=bearer) as response:
            assert response.status == 400, query
            assert (await response.json())["error"]["code"] == "invalid_query"
    # Command params end up in the commands table.
    await hub.devices.handshake("lamp-1", device_type="lamp", transport="nowhere")
    device = hub.devices.by_external_id("lamp-1")
    assert device is not None
    async with client.post(
        f"/api/devices/{device.id}/commands",
        json={"command": "say", "params": {"text": "a\x00b"}},
        headers=bearer,
    ) as response:
        assert response.status == 400
    # The escape written out literally (a backslash, then u0000) is just text.
    async with client.post(
        "/api/auth/login", json={"username": "\\u0000", "password": PASSWORD}
    ) as response:
        assert response.status == 401
    # And the hub is fine afterwards.
    async with client.post(
        "/api/auth/login", json={"username": "olivia", "password": PASSWORD}
    ) as response:
        assert response.status == 200


async def test_nul_is_refused_on_sqlite(hub_factory, hub_client):
    hub, token = await auth_hub(hub_factory, None)
    await assert_nul_refused(hub, hub_client, token)


@pytest.mark.postgres
async def test_nul_is_a_400_not_a_500_on_postgresql(postgres_database, hub_factory, hub_client):
    hub, token = await auth_hub(hub_factory, postgres_database)
    assert hub.db.require_engine().dialect.name == "postgresql"
    await assert_nul_refused(hub, hub_client, token)


@pytest.mark.parametrize(
    "value", ["١٢", "+5", " 5", "5 ", "5_0", "0x10", "-1", "1e2", "\uff15", "", "9" * 40]
)
async def test_limit_takes_ascii_digits_only(authed_hub, hub_client, value: str):
    await authed_hub.devices.handshake("lamp-1", device_type="lamp", transport="echo")
    device = authed_hub.devices.by_external_id("lamp-1")
    client = await hub_client(authed_hub, token="user-token")
    async with client.get(f"/api/devices/{device.id}/history", params={"limit": value}) as response:
        assert response.status == 400, value
        body = await response.json()
    assert body["error"]["code"] == "invalid_query"
    assert "limit" in body["error"]["message"]


async def test_limit_and_before_accept_plain_numbers(authed_hub, hub_client):
    await authed_hub.devices.handshake("lamp-1", device_type="lamp", transport="echo")
    device = authed_hub.devices.by_external_id("lamp-1")
    client = await hub_client(authed_hub, token="user-token")
    for query in ("limit=05", "limit=1000&before=1764436329.1234567", "before=-1"):
        async with client.get(f"/api/devices/{device.id}/history?{query}") as response:
            assert response.status == 200, query
    for query in ("before=nan", "before=inf", "before=1e9", "before=\u0661"):
        async with client.get(f"/api/devices/{device.id}/history?{query}") as response:
            assert response.status == 400, query
