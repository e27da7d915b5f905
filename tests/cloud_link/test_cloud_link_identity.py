"""Legacy identity messages from the fake cloud, and what they leave in the auth tables.

The hub runs the real auth integration; effects are checked in its tables and, end to
end, by logging in on the station with a password whose hash came from the cloud.
"""

from __future__ import annotations

import asyncio
from typing import Any

import bcrypt
import sqlalchemy as sa

from plugins.auth import get_user_store
from plugins.auth.tables import station_members, stations, users
from tests.cloud_link.conftest import WAIT, link_runtime

FAST_HASHING = {"password_hashing": {"time_cost": 1, "memory_kib": 8192, "parallelism": 1}}


def _bcrypt(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


class Station:
    """The hub, the cloud's end of its socket, and helpers to send and await messages."""

    def __init__(self, hub: Any, cloud: Any) -> None:
        self.hub = hub
        self.cloud = cloud
        self.legacy = link_runtime(hub).legacy
        self.sent = 0

    async def apply(self, *messages: dict[str, Any]) -> None:
        """Send messages and wait until the station has handled all of them."""
        for message in messages:
            await self.cloud.send(message)
        self.sent += len(messages)
        await asyncio.wait_for(self.legacy.wait_handled(self.sent), WAIT)

    async def rows(self, query: Any) -> list[dict[str, Any]]:
        async with self.hub.db.require_engine().connect() as connection:
            return [dict(row._mapping) for row in await connection.execute(query)]

    async def members(self) -> dict[str, tuple[str, str, str]]:
        """cloudUserId → (username, global role, station role)."""
        joined = sa.select(
            users.c.cloud_user_id, users.c.username, users.c.role, station_members.c.role
        ).join(station_members, station_members.c.user_id == users.c.id, isouter=True)
        async with self.hub.db.require_engine().connect() as connection:
            result = await connection.execute(joined)
            return {row[0]: (row[1], row[2], row[3]) for row in result if row[0]}

    async def station_row(self) -> dict[str, Any]:
        (row,) = await self.rows(sa.select(stations).where(stations.c.id == self.hub.station_id))
        return row

    async def login(self, client: Any, username: str, password: str) -> int:
        async with client.post(
            "/api/auth/login", json={"username": username, "password": password}
        ) as response:
            return response.status


async def _station(cloud_hub, fake_cloud) -> Station:
    hub = await cloud_hub(auth=FAST_HASHING)
    return Station(hub, await fake_cloud.next_connection())


ALICE = {"cloudUserId": "c-alice", "username": "alice", "role": "owner"}
BOB = {"cloudUserId": "c-bob", "username": "bob", "role": "member"}


async def test_identity_sync_mirrors_members_name_and_owner(cloud_hub, fake_cloud) -> None:
    station = await _station(cloud_hub, fake_cloud)
    local = await get_user_store(station.hub).create_user("local-admin", "admin")

    await station.apply(
        {
            "type": "identity_sync",
            "station": {"name": "North Yard", "ownerCloudUserId": "c-alice"},
            "members": [ALICE, BOB, {**BOB, "cloudUserId": "c-carol", "username": "carol"}],
        }
    )
    assert await station.members() == {
        "c-alice": ("alice", "owner", "owner"),
        "c-bob": ("bob", "user", "member"),
        "c-carol": ("carol", "user", "member"),
    }
    row = await station.station_row()
    assert row["name"] == "North Yard"
    alice = await get_user_store(station.hub).get_user_by_cloud_id("c-alice")
    assert alice is not None
    assert row["owner_user_id"] == alice.id

    # A later sync without carol removes her; bob becomes admin; local users stay.
    await station.apply({"type": "identity_sync", "members": [ALICE, {**BOB, "role": "admin"}]})
    assert await station.members() == {
        "c-alice": ("alice", "owner", "owner"),
        "c-bob": ("bob", "admin", "admin"),
    }
    assert await get_user_store(station.hub).get_user(local.id) is not None
    assert link_runtime(station.hub).legacy.failed == 0


async def test_member_messages_one_by_one(cloud_hub, fake_cloud) -> None:
    station = await _station(cloud_hub, fake_cloud)
    await station.apply({"type": "member_added", **BOB})
    assert await station.members() == {"c-bob": ("bob", "user", "member")}

    await station.apply({"type": "member_updated", "cloudUserId": "c-bob", "role": "admin"})
    assert await station.members() == {"c-bob": ("bob", "admin", "admin")}

    # The member may also come wrapped, and only the fields present change.
    await station.apply(
        {"type": "member_updated", "member": {"cloudUserId": "c-bob", "username": "robert"}}
    )
    assert await station.members() == {"c-bob": ("robert", "admin", "admin")}

    # An update for a member the station missed adds them.
    await station.apply({"type": "member_updated", **ALICE})
    assert (await station.members())["c-alice"] == ("alice", "owner", "owner")

    await station.apply({"type": "station_renamed", "name": "South Yard"})
    assert (await station.station_row())["name"] == "South Yard"

    await station.apply({"type": "member_removed", "cloudUserId": "c-bob"})
    assert set(await station.members()) == {"c-alice"}
    assert link_runtime(station.hub).legacy.failed == 0


async def test_passwords_from_the_cloud_log_in_and_changes_end_sessions(
    cloud_hub, fake_cloud, hub_client
) -> None:
    station = await _station(cloud_hub, fake_cloud)
    client = await hub_client(station.hub)
    await station.apply({"type": "member_added", **BOB, "stationPasswordHash": _bcrypt("first pw")})
    async with client.post(
        "/api/auth/login", json={"username": "bob", "password": "first pw"}
    ) as response:
        assert response.status == 200
        token = (await response.json())["access_token"]
    bob = await hub_client(station.hub, token=token)
    async with bob.get("/api/auth/me") as response:
        assert response.status == 200

    await station.apply(
        {
            "type": "station_password_changed",
            "cloudUserId": "c-bob",
            "stationPasswordHash": _bcrypt("second pw"),
        }
    )
    assert await station.login(client, "bob", "first pw") == 401
    assert await station.login(client, "bob", "second pw") == 200
    async with bob.get("/api/auth/me") as response:
        assert response.status == 401, "a session opened with the old password ended"

    await station.apply({"type": "member_removed", "cloudUserId": "c-bob"})
    assert await station.login(client, "bob", "second pw") == 401


async def test_bad_legacy_messages_are_refused_and_the_link_stays(cloud_hub, fake_cloud) -> None:
    station = await _station(cloud_hub, fake_cloud)
    await station.apply(
        {"type": "member_added", "cloudUserId": "c-x"},  # no username
        {"type": "member_added", **BOB, "role": "emperor"},
        {"type": "station_password_changed", "cloudUserId": "c-x", "stationPasswordHash": "md5"},
        {
            "type": "station_password_changed",
            "cloudUserId": "c-nobody",
            "stationPasswordHash": None,
        },
        {"type": "identity_sync", "members": [ALICE, {**BOB, "username": "alice"}]},
        {"type": "no_such_message"},
        {"type": 42},
    )
    legacy = link_runtime(station.hub).legacy
    assert legacy.failed == 7
    assert await station.members() == {}, "the conflicting sync changed nothing"
    assert (await station.cloud.call("devices.snapshot"))["result"] == {
        "devices": [],
        "nextCursor": None,
    }


async def test_identity_messages_need_the_auth_integration(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub()  # static test tokens, no auth integration
    station = Station(hub, await fake_cloud.next_connection())
    await station.apply({"type": "member_added", **BOB})
    assert link_runtime(hub).legacy.failed == 1
    assert (await station.cloud.call("devices.snapshot"))["result"] == {
        "devices": [],
        "nextCursor": None,
    }
