"""The store's public API, as the cloud link uses it for identity sync."""

from __future__ import annotations

import bcrypt
import pytest
import sqlalchemy as sa

from plugins.auth import (
    CloudMember,
    ConflictError,
    InvalidValueError,
    NotFoundError,
    get_user_store,
)
from plugins.auth.passwords import Passwords
from plugins.auth.store import UserStore
from plugins.auth.tables import users as users_table
from tests.auth.conftest import (
    FAST_HASHING,
    PASSWORD,
    auth_config,
    claims_for,
    hub_config,
    mint,
)


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


@pytest.fixture
async def store(auth_hub):
    return get_user_store(auth_hub)


async def login_status(client, username, password):
    async with client.post(
        "/api/auth/login", json={"username": username, "password": password}
    ) as response:
        return response.status


async def me_status(client, token):
    async with client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status


async def test_upsert_by_cloud_id_creates_then_updates(store):
    created = await store.upsert_cloud_user("c-1", username="carla", role="admin")
    assert (created.username, created.role, created.cloud_user_id) == ("carla", "admin", "c-1")
    updated = await store.upsert_cloud_user("c-1", username="carla.b", role="user")
    assert updated.id == created.id
    assert (updated.username, updated.role) == ("carla.b", "user")
    assert [user.username for user in await store.list_users()] == ["carla.b"]


async def test_the_cloud_never_takes_over_a_local_account_by_name(store):
    local = await store.create_user("carla", "user", password=PASSWORD)
    with pytest.raises(ConflictError, match="already used by a local account"):
        await store.upsert_cloud_user("c-1", username="carla", role="admin")
    with pytest.raises(ConflictError):
        await store.sync_identity([CloudMember("c-1", "carla", "owner")])
    unchanged = (await store.list_users())[0]
    assert (unchanged.id, unchanged.role, unchanged.cloud_user_id) == (local.id, "user", None)


async def test_username_of_another_cloud_user_is_a_conflict(store):
    await store.upsert_cloud_user("c-1", username="carla")
    with pytest.raises(ConflictError, match="already used"):
        await store.upsert_cloud_user("c-2", username="carla")
    await store.upsert_cloud_user("c-2", username="dora")
    with pytest.raises(ConflictError):
        await store.update_cloud_user("c-2", username="carla")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.upsert_cloud_user("c-1", username="x", role="superuser"), "role must be"),
        (lambda s: s.upsert_cloud_user("c-1", username=""), "username must be"),
        (lambda s: s.upsert_cloud_user("c-1", username=" padded "), "spaces"),
        (lambda s: s.upsert_cloud_user("c-1", username="a\nb"), "control"),
        (lambda s: s.upsert_cloud_user("", username="x"), "cloud user id"),
        (
            lambda s: s.upsert_cloud_user("c-1", username="x", station_password_hash="plain"),
            "bcrypt",
        ),
        (lambda s: s.set_station_password_hash("c-1", "$1$md5"), "bcrypt"),
        (lambda s: s.create_user("x", "user", password="short"), "password must be"),
        (lambda s: s.rename_station(""), "station name"),
        (
            lambda s: s.sync_identity([CloudMember("c-1", "a"), CloudMember("c-1", "b")]),
            "more than once",
        ),
        (
            lambda s: s.sync_identity([CloudMember("c-1", "a", station_role="boss")]),
            "station role",
        ),
    ],
)
async def test_invalid_values_are_refused_with_a_message(store, call, message):
    with pytest.raises(InvalidValueError, match=message):
        await call(store)
    assert await store.list_users() == []


async def test_member_events_keep_http_auth_in_step(auth_hub, store, hub_client):
    client = await hub_client(auth_hub)
    await store.upsert_cloud_user(
        "c-1", username="carla", station_password_hash=bcrypt_hash("first password")
    )
    assert await login_status(client, "carla", "first password") == 200
    async with client.post(
        "/api/auth/login", json={"username": "carla", "password": "first password"}
    ) as response:
        token = (await response.json())["access_token"]
    assert await me_status(client, token) == 200

    # station_password_changed: the new password works, the old one and its sessions don't.
    assert await store.set_station_password_hash("c-1", bcrypt_hash("second password"))
    assert await login_status(client, "carla", "first password") == 401
    assert await login_status(client, "carla", "second password") == 200
    assert await me_status(client, token) == 401

    # member_updated: deactivated at once.
    async with client.post(
        "/api/auth/login", json={"username": "carla", "password": "second password"}
    ) as response:
        token = (await response.json())["access_token"]
    assert (await store.update_cloud_user("c-1", active=False)).active is False
    assert await me_status(client, token) == 401
    assert await login_status(client, "carla", "second password") == 401

    # member_removed.
    assert await store.delete_cloud_user("c-1") is True
    assert await store.delete_cloud_user("c-1") is False
    assert await store.get_user_by_cloud_id("c-1") is None
    assert await store.update_cloud_user("c-1", role="admin") is None
    assert await store.set_station_password_hash("c-1", None) is False


async def test_sync_identity_mirrors_the_cloud(auth_hub, store, hub_client):
    local = await store.create_user("lou", "user", password=PASSWORD)
    await store.upsert_cloud_user("gone", username="gina")
    users = await store.sync_identity(
        [
            CloudMember("c-1", "carla", role="owner", station_role="owner"),
            CloudMember(
                "c-2", "dora", station_role="admin", station_password_hash=bcrypt_hash("pw-dora-1")
            ),
            CloudMember("c-3", "eve", station_role="member"),
        ],
        station_name="Renamed Station",
        owner_cloud_user_id="c-1",
    )
    assert [user.username for user in users] == ["carla", "dora", "eve"]
    by_name = {user.username: user for user in await store.list_users()}
    assert set(by_name) == {"carla", "dora", "eve", "lou"}  # gina removed, lou untouched
    station = await store.get_station()
    assert (station.name, station.owner_user_id) == ("Renamed Station", by_name["carla"].id)
    assert await store.station_role(by_name["carla"].id) == "owner"
    assert await store.station_role(by_name["dora"].id) == "admin"
    assert await store.station_role(by_name["eve"].id) == "member"
    assert await store.station_role(local.id) is None

    client = await hub_client(auth_hub)
    async with client.post(
        "/api/auth/login", json={"username": "dora", "password": "pw-dora-1"}
    ) as response:
        assert response.status == 200
        token = (await response.json())["access_token"]

    # The same sync again (same hash) must not sign dora out; a member dropped loses access.
    async with store.engine.connect() as connection:
        dora_hash = (
            await connection.execute(
                sa.select(users_table.c.station_password_hash).where(
                    users_table.c.username == "dora"
                )
            )
        ).scalar_one()
    await store.sync_identity(
        [
            CloudMember("c-1", "carla", role="owner", station_role="owner"),
            CloudMember("c-2", "dora", station_role="member", station_password_hash=dora_hash),
        ],
        owner_cloud_user_id="c-1",
    )
    assert await me_status(client, token) == 200
    assert await store.station_role(by_name["dora"].id) == "member"
    assert await store.get_user_by_cloud_id("c-3") is None


async def test_sync_identity_with_an_unknown_owner_changes_nothing(store):
    await store.upsert_cloud_user("c-1", username="carla")
    with pytest.raises(NotFoundError):
        await store.sync_identity([CloudMember("c-2", "dora")], owner_cloud_user_id="c-9")
    assert [user.username for user in await store.list_users()] == ["carla"]


async def test_station_owner_and_members(store):
    owner = await store.create_user("olivia", "owner")
    second_owner = await store.create_user("oscar", "owner")
    station = await store.get_station()
    assert station.owner_user_id == owner.id  # the first owner claims it, not the second
    assert await store.station_role(second_owner.id) is None

    await store.set_station_owner(second_owner.id)
    assert await store.station_role(second_owner.id) == "owner"
    assert await store.station_role(owner.id) is None

    member = await store.create_user("mia", "user")
    await store.set_member(member.id, "member")
    await store.set_member(member.id, "admin")
    assert [(m.user_id, m.role) for m in await store.list_members()] == [(member.id, "admin")]
    assert await store.remove_member(member.id) is True
    assert await store.remove_member(member.id) is False
    assert await store.station_role(member.id) is None

    with pytest.raises(NotFoundError):
        await store.set_member("no-such-user", "member")
    with pytest.raises(NotFoundError):
        await store.set_station_owner("no-such-user")

    await store.delete_user(second_owner.id)
    assert (await store.get_station()).owner_user_id is None


async def test_other_stations_are_separate(store):
    user = await store.create_user("mia", "user")
    await store.set_member(user.id, "admin", "station-b")
    assert (await store.get_station("station-b")).name == "Station A"
    await store.rename_station("Station B", "station-b")
    assert (await store.get_station("station-b")).name == "Station B"
    assert await store.station_role(user.id, "station-b") == "admin"
    assert await store.station_role(user.id) is None


async def test_writes_from_another_process_are_seen_after_the_cache_ttl(
    hub_factory, integrations, hub_client
):
    """The CLI writes through its own store; with user_cache_ttl 0 the hub sees it at once."""
    hub = await hub_factory(hub_config(auth_config(user_cache_ttl=0)), integrations=integrations)
    hub_store = get_user_store(hub)
    user = await hub_store.create_user("mia", "user")
    other = UserStore(
        hub.db.require_engine(),
        Passwords(
            time_cost=FAST_HASHING["time_cost"],
            memory_kib=FAST_HASHING["memory_kib"],
            parallelism=FAST_HASHING["parallelism"],
        ),
        station_id="station-a",
        station_name="Station A",
    )
    client = await hub_client(hub)
    token = mint(claims_for(user))
    assert await me_status(client, token) == 200
    await other.update_user(user.id, active=False)
    assert await me_status(client, token) == 401
