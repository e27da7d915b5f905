"""The one-time onboarding of the first owner, and long-lived API tokens for scripts."""

from __future__ import annotations

import asyncio
import time

from hub.timestamps import parse_iso
from plugins.auth import get_user_store, runtime_for
from tests.auth.conftest import PASSWORD, hub_config, make_cast


async def call(client, method, path, *, token=None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.request(method, path, json=body, headers=headers) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data


async def test_onboarding_creates_the_first_owner_once(hub_factory, integrations, hub_client):
    hub = await hub_factory(hub_config(), integrations=integrations)
    client = await hub_client(hub)
    assert await call(client, "GET", "/api/auth/onboarding") == (200, {"required": True})

    status, tokens = await call(
        client, "POST", "/api/auth/onboarding", body={"username": "olivia", "password": PASSWORD}
    )
    assert status == 201
    status, me = await call(client, "GET", "/api/auth/me", token=tokens["access_token"])
    assert (status, me["role"], me["stationRole"]) == (200, "owner", "owner")
    station = await get_user_store(hub).get_station()
    assert station is not None
    assert station.owner_user_id == me["userId"]
    assert station.name == "Station A"

    assert await call(client, "GET", "/api/auth/onboarding") == (200, {"required": False})
    status, body = await call(
        client, "POST", "/api/auth/onboarding", body={"username": "mallory", "password": PASSWORD}
    )
    assert status == 403
    assert body["error"]["code"] == "onboarding_closed"
    assert await get_user_store(hub).get_user_by_username("mallory") is None


async def test_concurrent_onboarding_makes_exactly_one_owner(hub_factory, integrations, hub_client):
    hub = await hub_factory(hub_config(), integrations=integrations)
    client = await hub_client(hub)
    results = await asyncio.gather(
        *(
            call(
                client,
                "POST",
                "/api/auth/onboarding",
                body={"username": f"owner{n}", "password": PASSWORD},
            )
            for n in range(6)
        )
    )
    assert sorted(status for status, _ in results) == [201] + [403] * 5
    assert len(await get_user_store(hub).list_users()) == 1


async def test_onboarding_refuses_a_weak_password_and_stays_open(
    hub_factory, integrations, hub_client
):
    hub = await hub_factory(hub_config(), integrations=integrations)
    client = await hub_client(hub)
    status, body = await call(
        client, "POST", "/api/auth/onboarding", body={"username": "olivia", "password": "short"}
    )
    assert status == 400
    assert "password must be" in body["error"]["message"]
    assert await call(client, "GET", "/api/auth/onboarding") == (200, {"required": True})


async def test_onboarding_is_closed_once_users_exist(auth_hub, cast, hub_client):
    client = await hub_client(auth_hub)
    status, _ = await call(
        client, "POST", "/api/auth/onboarding", body={"username": "new", "password": PASSWORD}
    )
    assert status == 403


async def test_api_token_lifecycle(auth_hub, cast, hub_client):
    client = await hub_client(auth_hub)
    session = cast.token(cast.member)
    status, created = await call(
        client, "POST", "/api/auth/tokens", token=session, body={"name": "backup script"}
    )
    assert status == 201
    secret = created.pop("token")
    assert secret.startswith("shub_")
    assert created["name"] == "backup script" and created["expiresAt"] is None

    status, principal = await call(client, "GET", "/api/test/user", token=secret)
    assert status == 200
    assert principal["id"] == cast.member.id and principal["extra"]["via"] == "api_token"

    status, listed = await call(client, "GET", "/api/auth/tokens", token=session)
    assert status == 200 and listed == [created]
    assert secret not in str(listed)

    # A token cannot mint tokens: a leaked one cannot make itself permanent.
    status, _ = await call(client, "POST", "/api/auth/tokens", token=secret, body={"name": "x"})
    assert status == 403

    # Another user cannot revoke it.
    status, _ = await call(
        client, "DELETE", f"/api/auth/tokens/{created['id']}", token=cast.token(cast.owner)
    )
    assert status == 404
    assert (await call(client, "GET", "/api/test/user", token=secret))[0] == 200

    status, _ = await call(client, "DELETE", f"/api/auth/tokens/{created['id']}", token=session)
    assert status == 204
    assert (await call(client, "GET", "/api/test/user", token=secret))[0] == 401
    assert (await call(client, "GET", "/api/auth/tokens", token=session)) == (200, [])


async def test_api_token_expiry_and_owner_deactivation(auth_hub, cast, hub_client):
    client = await hub_client(auth_hub)
    session = cast.token(cast.member)
    _, created = await call(
        client,
        "POST",
        "/api/auth/tokens",
        token=session,
        body={"name": "short-lived", "expiresInDays": 1},
    )
    secret = created["token"]
    assert created["expiresAt"].endswith("+00:00")
    assert parse_iso(created["expiresAt"]) > time.time()
    assert (await call(client, "GET", "/api/test/user", token=secret))[0] == 200

    runtime = runtime_for(auth_hub)
    assert runtime is not None
    sessions = runtime.sessions
    sessions.clock = lambda: time.time() + 2 * 86400
    assert (await call(client, "GET", "/api/test/user", token=secret))[0] == 401
    sessions.clock = time.time

    await cast.store.update_user(cast.member.id, active=False)
    assert (await call(client, "GET", "/api/test/user", token=secret))[0] == 401
    await cast.store.update_user(cast.member.id, active=True)
    assert (await call(client, "GET", "/api/test/user", token=secret))[0] == 200
    await cast.store.delete_user(cast.member.id)
    assert (await call(client, "GET", "/api/test/user", token=secret))[0] == 401


async def test_api_token_request_validation(auth_hub, cast, hub_client):
    client = await hub_client(auth_hub)
    session = cast.token(cast.member)
    for body in ({}, {"name": ""}, {"name": "x" * 65}, {"name": "ok", "expiresInDays": 0}):
        status, _ = await call(client, "POST", "/api/auth/tokens", token=session, body=body)
        assert status == 400, body
    assert (await call(client, "POST", "/api/auth/tokens", body={"name": "x"}))[0] == 401


async def test_station_roles_work_with_api_tokens(hub_factory, integrations, hub_client):
    hub = await hub_factory(hub_config(), integrations=integrations)
    cast = await make_cast(hub)
    _, member_secret = await cast.sessions.create_api_token(cast.member.id, "member script")
    _, outsider_secret = await cast.sessions.create_api_token(cast.outsider.id, "outsider")
    client = await hub_client(hub)
    assert (await call(client, "GET", "/api/test/station", token=member_secret))[0] == 200
    assert (await call(client, "GET", "/api/test/station", token=outsider_secret))[0] == 403
