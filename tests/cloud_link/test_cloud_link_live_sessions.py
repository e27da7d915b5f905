"""The cloud's member messages end a member's live sockets on the station at once.

The fake cloud sends real legacy identity messages over the link; the member signs in on
the station with the password whose hash came from the cloud and holds the events
WebSocket open. ``member_removed`` (and a role change) must close it with 4003.
"""

from __future__ import annotations

import asyncio
from typing import Any

import bcrypt

from hub.auth import CLOSE_SESSION_REVOKED
from tests.auth.live_sockets import closed_with, open_socket, still_open
from tests.cloud_link.conftest import WAIT, link_runtime

AUTH = {
    "jwt_secret": "cloud-link-live-session-test-secret-0123456789",
    "password_hashing": {"time_cost": 1, "memory_kib": 8192, "parallelism": 1},
}
PASSWORD = "bob's station password"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
ALICE = {
    "cloudUserId": "c-alice",
    "username": "alice",
    "role": "owner",
    "stationPasswordHash": HASH,
}
BOB = {"cloudUserId": "c-bob", "username": "bob", "role": "member", "stationPasswordHash": HASH}


class Linked:
    def __init__(self, hub: Any, cloud: Any) -> None:
        self.hub = hub
        self.cloud = cloud
        self.sent = 0

    async def apply(self, message: dict[str, Any]) -> None:
        await self.cloud.send(message)
        self.sent += 1
        await asyncio.wait_for(link_runtime(self.hub).legacy.wait_handled(self.sent), WAIT)
        assert link_runtime(self.hub).legacy.failed == 0

    async def socket_of(self, client: Any, username: str) -> Any:
        async with client.post(
            "/api/auth/login", json={"username": username, "password": PASSWORD}
        ) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["access_token"]
        return await open_socket(client, token)


async def linked_station(cloud_hub: Any, fake_cloud: Any) -> Linked:
    hub = await cloud_hub(auth=AUTH)
    station = Linked(hub, await fake_cloud.next_connection())
    await station.apply({"type": "identity_sync", "members": [ALICE, BOB]})
    return station


async def test_member_removed_closes_the_members_socket(cloud_hub, fake_cloud, hub_client):
    station = await linked_station(cloud_hub, fake_cloud)
    client = await hub_client(station.hub)
    bob = await station.socket_of(client, "bob")
    alice = await station.socket_of(client, "alice")

    await station.apply({"type": "member_removed", "cloudUserId": "c-bob"})

    code, reason, _ = await closed_with(bob)
    assert code == CLOSE_SESSION_REVOKED and "member removed by the cloud" in reason
    assert await still_open(alice)


async def test_a_sync_that_drops_a_member_closes_their_socket(cloud_hub, fake_cloud, hub_client):
    station = await linked_station(cloud_hub, fake_cloud)
    client = await hub_client(station.hub)
    bob = await station.socket_of(client, "bob")

    await station.apply({"type": "identity_sync", "members": [ALICE]})

    code, reason, _ = await closed_with(bob)
    assert code == CLOSE_SESSION_REVOKED and "member removed by the cloud" in reason


async def test_member_updated_with_a_new_role_closes_the_members_socket(
    cloud_hub, fake_cloud, hub_client
):
    station = await linked_station(cloud_hub, fake_cloud)
    client = await hub_client(station.hub)
    bob = await station.socket_of(client, "bob")

    await station.apply({"type": "member_updated", "cloudUserId": "c-bob", "role": "admin"})

    code, reason, _ = await closed_with(bob)
    assert code == CLOSE_SESSION_REVOKED and "role changed" in reason
