"""Claiming the station (owner or agent), and the cloud's station_reset."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from hub.db import tables
from hub.devices.models import COMMAND_FAILED
from plugins.cloud_link.const import EXIT_STATION_RESET, STATE_CONNECTED, STATE_NOT_CONFIGURED
from plugins.cloud_link.tables import cloud_config
from tests.cloud_link import fake_devices
from tests.cloud_link.conftest import AGENT_TOKEN, GOOD_TOKEN, WAIT, link_runtime

CLAIMED_TOKEN = "token-issued-at-claim"


async def _claim_rows(hub) -> list[tuple[str, float]]:
    async with hub.db.require_engine().connect() as connection:
        result = await connection.execute(
            sa.select(cloud_config.c.station_token, cloud_config.c.claimed_at)
        )
        return [tuple(row) for row in result]


async def _wait_state(hub, state: str) -> None:
    status = link_runtime(hub).link.status
    await asyncio.wait_for(status.wait_for(lambda s: s.state == state), WAIT)


async def test_owner_claims_and_the_station_connects_with_the_token(
    cloud_hub, fake_cloud, hub_client
) -> None:
    fake_cloud.accepted_tokens = {CLAIMED_TOKEN}
    hub = await cloud_hub(station_token=None)
    await _wait_state(hub, STATE_NOT_CONFIGURED)
    owner = await hub_client(hub, token="owner-token")
    async with owner.post("/api/cloud/claim", json={"stationToken": CLAIMED_TOKEN}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["claimedAt"] is not None
    connection = await fake_cloud.next_connection()
    assert connection.token == CLAIMED_TOKEN
    await _wait_state(hub, STATE_CONNECTED)
    rows = await _claim_rows(hub)
    assert [token for token, _ in rows] == [CLAIMED_TOKEN]


async def test_claim_needs_the_owner_or_the_agent(cloud_hub, fake_cloud, hub_client) -> None:
    hub = await cloud_hub(station_token=None)
    body = {"stationToken": CLAIMED_TOKEN}
    for token, expected in ((None, 401), ("user-token", 403), ("wrong-agent", 401)):
        client = await hub_client(hub, token=token)
        async with client.post("/api/cloud/claim", json=body) as response:
            assert response.status == expected, token
    assert await _claim_rows(hub) == []
    agent = await hub_client(hub, token=AGENT_TOKEN)
    async with agent.post("/api/cloud/claim", json=body) as response:
        assert response.status == 200
    assert [token for token, _ in await _claim_rows(hub)] == [CLAIMED_TOKEN]


async def test_claim_body_is_checked(cloud_hub, fake_cloud, hub_client) -> None:
    hub = await cloud_hub(station_token=None)
    owner = await hub_client(hub, token="owner-token")
    for body in ({}, {"stationToken": ""}, {"stationToken": "   "}, {"stationToken": 5}):
        async with owner.post("/api/cloud/claim", json=body) as response:
            assert response.status == 400, body
            error = (await response.json())["error"]
            assert "stationToken" in error["message"], error
    assert await _claim_rows(hub) == []


async def test_a_new_claim_replaces_the_live_session(cloud_hub, fake_cloud, hub_client) -> None:
    fake_cloud.accepted_tokens = {GOOD_TOKEN, CLAIMED_TOKEN}
    hub = await cloud_hub()
    first = await fake_cloud.next_connection()
    assert first.token == GOOD_TOKEN
    owner = await hub_client(hub, token="owner-token")
    async with owner.post("/api/cloud/claim", json={"stationToken": CLAIMED_TOKEN}) as response:
        assert response.status == 200
    await asyncio.wait_for(first.closed.wait(), WAIT)
    second = await fake_cloud.next_connection()
    assert second.token == CLAIMED_TOKEN


async def test_the_claim_survives_a_hub_restart(cloud_hub, fake_cloud) -> None:
    fake_cloud.accepted_tokens = {CLAIMED_TOKEN}
    hub = await cloud_hub(station_token=None)
    await link_runtime(hub).claim(CLAIMED_TOKEN)
    await fake_cloud.next_connection()
    config_dir = hub.config_dir
    await hub.stop()

    from hub.core import Hub

    again = Hub(config_dir, extra_integrations=_integrations())
    await again.start()
    try:
        connection = await fake_cloud.next_connection()
        assert connection.token == CLAIMED_TOKEN
        assert link_runtime(again).status()["claimedAt"] is not None
    finally:
        await again.stop()


def _integrations() -> dict:
    from hub.testing import static_auth

    return {"static_auth": static_auth, "fake_devices": fake_devices}


async def test_station_reset_wipes_the_claim_resets_devices_and_exits(
    cloud_hub, fake_cloud
) -> None:
    fake_cloud.accepted_tokens = {CLAIMED_TOKEN}
    hub = await cloud_hub(station_token=None)
    await link_runtime(hub).claim(CLAIMED_TOKEN)
    cloud = await fake_cloud.next_connection()
    lamp = await hub.devices.handshake("lamp-1", device_type="x", transport="fake")
    broken = await hub.devices.handshake("lamp-2", device_type="x", transport="fake")
    transport = fake_devices.TRANSPORTS[hub]
    transport.failing.add("lamp-2")

    await cloud.send({"type": "station_reset"})
    await asyncio.wait_for(hub.wait_for_exit_request(), WAIT)

    assert hub.exit_code == EXIT_STATION_RESET
    assert await _claim_rows(hub) == []
    assert transport.sent == [("lamp-1", "factory_reset", {})]
    # Flushed before the exit request: the commands are in the database already.
    async with hub.db.require_engine().connect() as connection:
        rows = await connection.execute(
            sa.select(tables.commands.c.device_id, tables.commands.c.status).where(
                tables.commands.c.command == "factory_reset"
            )
        )
        status_by_device = dict(rows.all())
    assert set(status_by_device) == {lamp.id, broken.id}
    assert status_by_device[broken.id] == COMMAND_FAILED
    assert status_by_device[lamp.id] != COMMAND_FAILED
    # Unclaimed and no token in the YAML: the link stops and says so.
    await _wait_state(hub, STATE_NOT_CONFIGURED)
    await asyncio.wait_for(cloud.closed.wait(), WAIT)


async def test_routes_are_documented_with_their_own_auth(cloud_hub, fake_cloud, hub_client) -> None:
    hub = await cloud_hub()
    client = await hub_client(hub)
    async with client.get("/api/openapi.json") as response:
        paths = (await response.json())["paths"]
    assert paths["/api/cloud/status"]["get"]["security"] == [{"user": []}]
    claim = paths["/api/cloud/claim"]["post"]
    schema = claim["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["stationToken"]
    assert claim["security"] == [{"user": []}, {"agent": []}]
    assert "/api/agent/cloud/claim" not in paths
