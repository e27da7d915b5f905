"""Managing users over HTTP, and changing one's own password, against a real hub."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.auth import CloudMember
from tests.auth.conftest import PASSWORD, auth_config, hub_config, make_cast

NEW_PASSWORD = "a different passphrase 42"


@pytest.fixture
async def users_hub(hub_factory, integrations):
    hub = await hub_factory(hub_config(), integrations=integrations)
    cast = await make_cast(hub, password=PASSWORD)
    return hub, cast


async def call(client, method: str, path: str, token: str | None, body: Any = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.request(method, path, json=body, headers=headers) as response:
        data = await response.json() if response.status != 204 else None
        return response.status, data


async def login(client, username: str, password: str) -> tuple[int, Any]:
    return await call(
        client, "POST", "/api/auth/login", None, {"username": username, "password": password}
    )


async def test_only_owners_and_admins_list_users(users_hub, hub_client):
    hub, cast = users_hub
    client = await hub_client(hub)
    status, listed = await call(client, "GET", "/api/auth/users", cast.token(cast.admin))
    assert status == 200
    assert [user["username"] for user in listed] == ["adam", "ina", "mia", "olivia", "otto"]
    assert all("password" not in key.lower() for user in listed for key in user)
    assert (await call(client, "GET", "/api/auth/users", cast.token(cast.member)))[0] == 403
    assert (await call(client, "GET", "/api/auth/users", None))[0] == 401
    status, one = await call(
        client, "GET", f"/api/auth/users/{cast.member.id}", cast.token(cast.owner)
    )
    assert (status, one["username"], one["role"]) == (200, "mia", "user")
    assert (await call(client, "GET", "/api/auth/users/nope", cast.token(cast.owner)))[0] == 404


async def test_a_created_user_can_sign_in_and_bad_requests_say_why(users_hub, hub_client):
    hub, cast = users_hub
    client = await hub_client(hub)
    admin = cast.token(cast.admin)
    body = {"username": "newt", "password": NEW_PASSWORD}
    status, created = await call(client, "POST", "/api/auth/users", admin, body)
    assert (status, created["username"], created["role"]) == (201, "newt", "user")
    assert (await login(client, "newt", NEW_PASSWORD))[0] == 200

    status, error = await call(client, "POST", "/api/auth/users", admin, body)
    assert (status, error["error"]["code"]) == (409, "conflict")
    status, error = await call(
        client, "POST", "/api/auth/users", admin, {"username": "short", "password": "1234"}
    )
    assert status == 400 and "password must be" in error["error"]["message"]
    status, error = await call(
        client,
        "POST",
        "/api/auth/users",
        admin,
        {"username": "x", "password": NEW_PASSWORD, "role": "root"},
    )
    assert status == 400 and "role" in error["error"]["message"]


async def test_admins_cannot_make_or_touch_owners(users_hub, hub_client):
    hub, cast = users_hub
    client = await hub_client(hub)
    admin, owner = cast.token(cast.admin), cast.token(cast.owner)
    new_owner = {"username": "boss", "password": NEW_PASSWORD, "role": "owner"}
    assert (await call(client, "POST", "/api/auth/users", admin, new_owner))[0] == 403
    promote = {"role": "owner"}
    assert (await call(client, "PATCH", f"/api/auth/users/{cast.admin.id}", admin, promote))[
        0
    ] == 403
    path = f"/api/auth/users/{cast.owner.id}"
    assert (await call(client, "PATCH", path, admin, {"active": False}))[0] == 403
    assert (await call(client, "DELETE", path, admin))[0] == 403
    assert (await call(client, "GET", "/api/auth/me", owner))[0] == 200
    # An owner can.
    assert (await call(client, "POST", "/api/auth/users", owner, new_owner))[0] == 201


async def test_updates_apply_at_once(users_hub, hub_client):
    hub, cast = users_hub
    client = await hub_client(hub)
    admin = cast.token(cast.admin)
    _, session = await login(client, "mia", PASSWORD)
    path = f"/api/auth/users/{cast.member.id}"

    status, updated = await call(
        client, "PATCH", path, admin, {"username": "mila", "role": "admin"}
    )
    assert (status, updated["username"], updated["role"]) == (200, "mila", "admin")
    status, me = await call(client, "GET", "/api/auth/me", session["access_token"])
    assert (status, me["username"], me["role"]) == (200, "mila", "admin")

    status, error = await call(client, "PATCH", path, admin, {})
    assert status == 400 and "at least one" in error["error"]["message"]
    status, error = await call(client, "PATCH", path, admin, {"password": "short", "role": "user"})
    assert status == 400
    assert (await call(client, "GET", "/api/auth/me", session["access_token"]))[1][
        "role"
    ] == "admin"

    assert (await call(client, "PATCH", path, admin, {"password": NEW_PASSWORD}))[0] == 200
    assert (await call(client, "GET", "/api/auth/me", session["access_token"]))[0] == 401
    assert (await login(client, "mila", PASSWORD))[0] == 401
    assert (await login(client, "mila", NEW_PASSWORD))[0] == 200

    assert (await call(client, "PATCH", path, admin, {"active": False}))[0] == 200
    assert (await login(client, "mila", NEW_PASSWORD))[0] == 401


async def test_deleting_a_user_ends_its_access(users_hub, hub_client):
    hub, cast = users_hub
    client = await hub_client(hub)
    admin = cast.token(cast.admin)
    path = f"/api/auth/users/{cast.member.id}"
    assert (await call(client, "DELETE", path, admin))[0] == 204
    assert (await call(client, "GET", path, admin))[0] == 404
    assert (await call(client, "DELETE", path, admin))[0] == 404
    assert (await call(client, "GET", "/api/auth/me", cast.token(cast.member)))[0] == 401


async def test_the_last_active_owner_stays(users_hub, hub_client):
    hub, cast = users_hub
    client = await hub_client(hub)
    owner = cast.token(cast.owner)
    path = f"/api/auth/users/{cast.owner.id}"
    for change in ({"role": "admin"}, {"active": False}):
        status, error = await call(client, "PATCH", path, owner, change)
        assert (status, error["error"]["code"]) == (409, "conflict"), change
        assert "last active owner" in error["error"]["message"]
    assert (await call(client, "DELETE", path, owner))[0] == 409
    assert (await call(client, "GET", "/api/auth/me", owner))[0] == 200

    await call(client, "PATCH", f"/api/auth/users/{cast.admin.id}", owner, {"role": "owner"})
    assert (await call(client, "PATCH", path, owner, {"role": "admin"}))[0] == 200


async def test_cloud_users_are_read_only_here(users_hub, hub_client):
    hub, cast = users_hub
    client = await hub_client(hub)
    await cast.store.sync_identity([CloudMember("c-1", "carla", station_role="admin")])
    carla = await cast.store.get_user_by_cloud_id("c-1")
    path = f"/api/auth/users/{carla.id}"
    owner = cast.token(cast.owner)
    status, error = await call(client, "PATCH", path, owner, {"role": "user"})
    assert (status, error["error"]["code"]) == (409, "managed_by_cloud")
    assert (await call(client, "DELETE", path, owner))[0] == 409
    status, error = await call(
        client,
        "POST",
        "/api/auth/password",
        cast.token(carla),
        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
    )
    assert (status, error["error"]["code"]) == (409, "managed_by_cloud")


async def test_changing_your_password_ends_other_sessions_and_keeps_this_one(users_hub, hub_client):
    hub, _cast = users_hub
    client = await hub_client(hub)
    _, old = await login(client, "mia", PASSWORD)
    change = {"currentPassword": "not it at all", "newPassword": NEW_PASSWORD}
    status, error = await call(client, "POST", "/api/auth/password", old["access_token"], change)
    assert (status, error["error"]["code"]) == (403, "wrong_password")

    change["currentPassword"] = PASSWORD
    status, fresh = await call(client, "POST", "/api/auth/password", old["access_token"], change)
    assert status == 200
    # The new pair works at once, even within the second the old sessions ended in.
    assert (await call(client, "GET", "/api/auth/me", fresh["access_token"]))[0] == 200
    refreshed = await call(
        client, "POST", "/api/auth/refresh", None, {"refresh_token": fresh["refresh_token"]}
    )
    assert refreshed[0] == 200
    assert (await call(client, "GET", "/api/auth/me", old["access_token"]))[0] == 401
    stale = await call(
        client, "POST", "/api/auth/refresh", None, {"refresh_token": old["refresh_token"]}
    )
    assert stale[0] == 401
    assert (await login(client, "mia", PASSWORD))[0] == 401
    assert (await login(client, "mia", NEW_PASSWORD))[0] == 200


async def test_guessing_the_current_password_is_throttled(hub_factory, integrations, hub_client):
    config = auth_config(login_throttle={"max_failures_per_user": 3, "window": 60})
    hub = await hub_factory(hub_config(config), integrations=integrations)
    cast = await make_cast(hub, password=PASSWORD)
    client = await hub_client(hub)
    token = cast.token(cast.member)
    statuses = []
    for attempt in range(5):
        guess = {"currentPassword": f"guess number {attempt}", "newPassword": NEW_PASSWORD}
        statuses.append((await call(client, "POST", "/api/auth/password", token, guess))[0])
    assert statuses == [403, 403, 403, 429, 429]
