"""Login, refresh, logout and me, over HTTP against a real hub."""

from __future__ import annotations

import time

import bcrypt
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, Type

from plugins.auth import runtime_for
from plugins.auth.tables import users
from tests.auth.conftest import PASSWORD, hub_config, make_cast


@pytest.fixture
async def login_hub(hub_factory, integrations):
    hub = await hub_factory(hub_config(), integrations=integrations)
    cast = await make_cast(hub, password=PASSWORD)
    return hub, cast


async def post(client, path, body):
    async with client.post(path, json=body) as response:
        data = await response.json() if response.status != 204 else None
        return response.status, data, response.headers


async def get(client, path, token):
    async with client.get(path, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def test_login_returns_working_tokens_and_me_describes_the_user(login_hub, hub_client):
    hub, cast = login_hub
    client = await hub_client(hub)
    status, body, _ = await post(
        client, "/api/auth/login", {"username": "mia", "password": PASSWORD}
    )
    assert status == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    status, me = await get(client, "/api/auth/me", body["access_token"])
    assert status == 200
    assert me == {
        "userId": cast.member.id,
        "username": "mia",
        "role": "user",
        "stationRole": "member",
    }


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("mia", "wrong password"),
        ("nobody", PASSWORD),
        ("ina", PASSWORD),  # right password, deactivated user
        ("MIA", "wrong password"),
    ],
)
async def test_failed_logins_all_look_the_same(login_hub, hub_client, username, password):
    hub, _cast = login_hub
    client = await hub_client(hub)
    status, body, _ = await post(
        client, "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 401
    assert body == {
        "error": {"code": "invalid_credentials", "message": "wrong username or password"}
    }


@pytest.mark.parametrize(
    "body",
    [
        {"username": "mia"},
        {"password": PASSWORD},
        {"username": 5, "password": PASSWORD},
        {"username": "mia", "password": None},
        {"username": "m" * 200, "password": PASSWORD},
        {"username": "mia", "password": "p" * 2000},
        ["mia", PASSWORD],
    ],
)
async def test_malformed_login_bodies_are_400(login_hub, hub_client, body):
    hub, _cast = login_hub
    client = await hub_client(hub)
    status, answer, _ = await post(client, "/api/auth/login", body)
    assert status == 400
    assert answer["error"]["message"]


async def test_login_body_that_is_not_json_is_400(login_hub, hub_client):
    hub, _cast = login_hub
    client = await hub_client(hub)
    async with client.post(
        "/api/auth/login",
        data=b"username=mia&password=x",
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_json"


def _bcrypt(password: str, prefix: str) -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    return prefix + hashed[4:]


@pytest.mark.parametrize(
    "make_hash",
    [
        lambda: _bcrypt("cloud password", "$2a$"),
        lambda: _bcrypt("cloud password", "$2b$"),
        lambda: _bcrypt("cloud password", "$2y$"),
        lambda: PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(
            "cloud password"
        ),
        lambda: PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.I).hash(
            "cloud password"
        ),
    ],
    ids=["bcrypt-2a", "bcrypt-2b", "bcrypt-2y", "argon2id", "argon2i"],
)
async def test_cloud_synced_hashes_are_verified_by_prefix(login_hub, hub_client, make_hash):
    hub, cast = login_hub
    await cast.store.upsert_cloud_user(
        "cloud-1", username="carla", role="user", station_password_hash=make_hash()
    )
    client = await hub_client(hub)
    ok, _, _ = await post(
        client, "/api/auth/login", {"username": "carla", "password": "cloud password"}
    )
    wrong, _, _ = await post(
        client, "/api/auth/login", {"username": "carla", "password": "cloud passwort"}
    )
    assert (ok, wrong) == (200, 401)


async def test_bcrypt_hash_of_a_long_password_matches_its_first_72_bytes(login_hub, hub_client):
    """Node's bcrypt truncates at 72 bytes; the hub must accept what the cloud accepted."""
    hub, cast = login_hub
    long_password = "x" * 72 + "tail that bcrypt never saw"
    hashed = bcrypt.hashpw(long_password.encode()[:72], bcrypt.gensalt(4)).decode()
    await cast.store.upsert_cloud_user(
        "cloud-1", username="carla", role="user", station_password_hash=hashed
    )
    client = await hub_client(hub)
    status, _, _ = await post(
        client, "/api/auth/login", {"username": "carla", "password": long_password}
    )
    assert status == 200


@pytest.mark.parametrize(
    "stored",
    [
        "$2b$12$tooshort",
        "$2b$xx$" + "a" * 53,
        "$2b$31$" + "a" * 53,  # cost 31 would take days: refused, not attempted
        "$2b$04$" + "!" * 53,
        "$argon2id$v=19$m=65536,t=3,p=4$notbase64$notbase64",
        "$argon2id$v=19$m=4194304,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",  # 4 GiB
        "$argon2id$garbage",
        "$argon2\u00e9$v=19$m=1,t=1,p=1$x$y",
    ],
)
async def test_malformed_stored_hash_is_a_failed_login_not_a_500(login_hub, hub_client, stored):
    hub, cast = login_hub
    await cast.store.upsert_cloud_user("cloud-1", username="carla", role="user")
    # Written past the store's prefix check, as a corrupt row would be.
    async with cast.store.engine.begin() as connection:
        await connection.execute(
            sa.update(users).where(users.c.username == "carla").values(station_password_hash=stored)
        )
    client = await hub_client(hub)
    started = time.perf_counter()
    status, body, _ = await post(
        client, "/api/auth/login", {"username": "carla", "password": PASSWORD}
    )
    assert status == 401
    assert body["error"]["code"] == "invalid_credentials"
    assert time.perf_counter() - started < 5


async def test_refresh_rotates_and_a_reused_refresh_token_ends_every_session(login_hub, hub_client):
    hub, _cast = login_hub
    client = await hub_client(hub)
    _, first, _ = await post(client, "/api/auth/login", {"username": "mia", "password": PASSWORD})
    _, other_device, _ = await post(
        client, "/api/auth/login", {"username": "mia", "password": PASSWORD}
    )
    status, second, _ = await post(
        client, "/api/auth/refresh", {"refresh_token": first["refresh_token"]}
    )
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert (await get(client, "/api/auth/me", second["access_token"]))[0] == 200
    # The spent token again: someone kept a copy. Everything of that user is revoked.
    status, body, _ = await post(
        client, "/api/auth/refresh", {"refresh_token": first["refresh_token"]}
    )
    assert status == 401
    assert "already used" in body["error"]["message"]
    for token in (second["refresh_token"], other_device["refresh_token"]):
        status, _, _ = await post(client, "/api/auth/refresh", {"refresh_token": token})
        assert status == 401


@pytest.mark.parametrize("token", ["", "x" * 5000, "not-a-token"])
async def test_refresh_with_unknown_or_malformed_token(login_hub, hub_client, token):
    hub, _cast = login_hub
    client = await hub_client(hub)
    status, _, _ = await post(client, "/api/auth/refresh", {"refresh_token": token})
    assert status == (401 if token == "not-a-token" else 400)


async def test_logout_revokes_the_refresh_token(login_hub, hub_client):
    hub, _cast = login_hub
    client = await hub_client(hub)
    _, tokens, _ = await post(client, "/api/auth/login", {"username": "mia", "password": PASSWORD})
    status, _, _ = await post(
        client, "/api/auth/logout", {"refresh_token": tokens["refresh_token"]}
    )
    assert status == 204
    status, _, _ = await post(
        client, "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}
    )
    assert status == 401
    # Idempotent.
    status, _, _ = await post(
        client, "/api/auth/logout", {"refresh_token": tokens["refresh_token"]}
    )
    assert status == 204


@pytest.mark.parametrize("change", ["deactivate", "delete", "password"])
async def test_refresh_fails_once_the_user_changed(login_hub, hub_client, change):
    hub, cast = login_hub
    client = await hub_client(hub)
    _, tokens, _ = await post(client, "/api/auth/login", {"username": "mia", "password": PASSWORD})
    if change == "deactivate":
        await cast.store.update_user(cast.member.id, active=False)
    elif change == "delete":
        await cast.store.delete_user(cast.member.id)
    else:
        await cast.store.set_password(cast.member.id, "a brand new password")
    status, _, _ = await post(
        client, "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}
    )
    assert status == 401
    status, _ = await get(client, "/api/auth/me", tokens["access_token"])
    assert status == 401


async def test_expired_refresh_token_is_refused(login_hub, hub_client):
    hub, _cast = login_hub
    client = await hub_client(hub)
    _, tokens, _ = await post(client, "/api/auth/login", {"username": "mia", "password": PASSWORD})
    runtime = runtime_for(hub)
    assert runtime is not None
    sessions = runtime.sessions
    sessions.clock = lambda: time.time() + sessions.refresh_ttl + 1
    status, body, _ = await post(
        client, "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}
    )
    assert status == 401
    assert body["error"]["code"] == "token_expired"


async def test_role_changes_apply_to_existing_tokens_at_once(login_hub, hub_client):
    hub, cast = login_hub
    client = await hub_client(hub)
    token = cast.token(cast.admin)
    assert (await get(client, "/api/test/admin", token))[0] == 200
    await cast.store.update_user(cast.admin.id, role="user")
    assert (await get(client, "/api/test/admin", token))[0] == 403
    await cast.store.update_user(cast.admin.id, role="admin")
    assert (await get(client, "/api/test/admin", token))[0] == 200


async def test_reactivated_user_needs_a_new_session(login_hub, hub_client):
    hub, cast = login_hub
    client = await hub_client(hub)
    _, tokens, _ = await post(client, "/api/auth/login", {"username": "mia", "password": PASSWORD})
    await cast.store.update_user(cast.member.id, active=False)
    await cast.store.update_user(cast.member.id, active=True)
    assert (await get(client, "/api/auth/me", tokens["access_token"]))[0] == 401
    status, fresh, _ = await post(
        client, "/api/auth/login", {"username": "mia", "password": PASSWORD}
    )
    assert status == 200
    # Signed in within the same second the old sessions ended in: the new one still works.
    assert (await get(client, "/api/auth/me", fresh["access_token"]))[0] == 200
