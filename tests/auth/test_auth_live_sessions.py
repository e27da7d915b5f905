"""Live sockets end when the right to them ends (issue #11 §2), against a real hub.

A WebSocket opened with a user's token must close — 4001 when the token's lifetime ends,
4003 at once when the user is deactivated, deleted, demoted or re-passworded, or when a
spent refresh token is replayed — and a replayed refresh token also ends the access
tokens already handed out.
"""

from __future__ import annotations

import time

import pytest

from hub.auth import CLOSE_SESSION_EXPIRED, CLOSE_SESSION_REVOKED
from hub.http.websocket import session as websocket_session
from plugins.auth import UserStore, get_user_store
from tests.auth.conftest import PASSWORD, auth_config, claims_for, hub_config, make_cast, mint
from tests.auth.live_sockets import WAIT, closed_with, open_socket, still_open

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture
async def live_hub(hub_factory, integrations):
    # No leeway: a token's socket closes exactly at its exp.
    hub = await hub_factory(hub_config(auth_config(leeway=0)), integrations=integrations)
    return hub, await make_cast(hub, password=PASSWORD)


async def call(client, method, path, token, body=None):
    async with client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, (await response.json() if response.status != 204 else None)


async def test_a_socket_closes_with_4001_when_its_jwt_expires(live_hub, hub_client):
    hub, cast = live_hub
    client = await hub_client(hub)
    now = time.time()
    expires = now + 1.5
    token = mint(claims_for(cast.member, iat=now, exp=expires))
    socket = await open_socket(client, token)
    await socket.send_json(
        {"id": 1, "type": "subscribe_events", "event_type": "device_state_changed"}
    )
    assert (await socket.receive_json(timeout=WAIT))["success"] is True

    code, reason, closed_at = await closed_with(socket)

    assert code == CLOSE_SESSION_EXPIRED
    assert "expired" in reason
    assert closed_at >= expires - 0.05  # not before the token's end


async def test_a_socket_opened_with_an_expiring_api_token_closes_at_its_expiry(
    live_hub, hub_client
):
    hub, cast = live_hub
    client = await hub_client(hub)
    expires = time.time() + 1.5
    _, secret = await cast.sessions.create_api_token(cast.member.id, "feed", expires_at=expires)
    socket = await open_socket(client, secret)

    code, _reason, closed_at = await closed_with(socket)

    assert code == CLOSE_SESSION_EXPIRED
    assert closed_at >= expires - 0.05


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("PATCH", {"active": False}), "user deactivated"),
        (("DELETE", None), "user deleted"),
        (("PATCH", {"role": "admin"}), "role changed"),
        (("PATCH", {"password": NEW_PASSWORD}), "password changed"),
    ],
    ids=["deactivated", "deleted", "role-changed", "password-reset"],
)
async def test_an_admin_change_closes_the_users_sockets_at_once(
    live_hub, hub_client, change, reason
):
    hub, cast = live_hub
    client = await hub_client(hub)
    victim = await open_socket(client, cast.token(cast.member))
    await victim.send_json(
        {"id": 1, "type": "subscribe_events", "event_type": "device_state_changed"}
    )
    assert (await victim.receive_json(timeout=WAIT))["success"] is True
    bystander = await open_socket(client, cast.token(cast.admin))
    method, body = change

    status, _ = await call(
        client, method, f"/api/auth/users/{cast.member.id}", cast.token(cast.owner), body
    )

    assert status in (200, 204)
    code, text, _ = await closed_with(victim)
    assert code == CLOSE_SESSION_REVOKED
    assert reason in text
    assert await still_open(bystander)  # only the user concerned is cut off


async def test_other_subscribers_never_see_who_lost_their_session(live_hub, hub_client):
    hub, cast = live_hub
    client = await hub_client(hub)
    victim = await open_socket(client, cast.token(cast.member))
    watcher = await open_socket(client, cast.token(cast.admin))
    await watcher.send_json({"id": 1, "type": "subscribe_events", "event_type": "*"})
    assert (await watcher.receive_json(timeout=WAIT))["success"] is True

    await cast.store.update_user(cast.member.id, active=False)

    assert (await closed_with(victim))[0] == CLOSE_SESSION_REVOKED
    await watcher.send_json({"id": 2, "type": "ping"})
    assert await watcher.receive_json(timeout=WAIT) == {"id": 2, "type": "pong"}


async def test_changing_your_own_password_closes_your_sockets(live_hub, hub_client):
    hub, cast = live_hub
    client = await hub_client(hub)
    token = cast.token(cast.member)
    socket = await open_socket(client, token)

    status, _ = await call(
        client,
        "POST",
        "/api/auth/password",
        token,
        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
    )

    assert status == 200
    code, text, _ = await closed_with(socket)
    assert (code, "password changed" in text) == (CLOSE_SESSION_REVOKED, True)


async def test_a_station_role_change_closes_the_members_sockets(live_hub, hub_client):
    hub, cast = live_hub
    client = await hub_client(hub)
    socket = await open_socket(client, cast.token(cast.member))

    await cast.store.set_member(cast.member.id, "admin")

    code, text, _ = await closed_with(socket)
    assert code == CLOSE_SESSION_REVOKED and "station role changed" in text


async def test_revoking_an_api_token_closes_only_the_sockets_opened_with_it(live_hub, hub_client):
    hub, cast = live_hub
    client = await hub_client(hub)
    record, secret = await cast.sessions.create_api_token(cast.member.id, "feed")
    scripted = await open_socket(client, secret)
    browser = await open_socket(client, cast.token(cast.member))

    status, _ = await call(
        client, "DELETE", f"/api/auth/tokens/{record.id}", cast.token(cast.member)
    )

    assert status == 204
    code, text, _ = await closed_with(scripted)
    assert code == CLOSE_SESSION_REVOKED and "API token revoked" in text
    assert await still_open(browser)


async def test_replaying_a_spent_refresh_token_ends_every_access_token_and_socket(
    live_hub, hub_client
):
    hub, _cast = live_hub
    client = await hub_client(hub)
    async with client.post(
        "/api/auth/login", json={"username": "mia", "password": PASSWORD}
    ) as response:
        first = await response.json()
    async with client.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    ) as response:
        second = await response.json()
    socket = await open_socket(client, second["access_token"])
    for pair in (first, second):  # both work before the replay
        status, _ = await call(client, "GET", "/api/auth/me", pair["access_token"])
        assert status == 200

    # Someone replays the first, already spent, refresh token.
    async with client.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    ) as response:
        assert response.status == 401

    for pair in (first, second):
        status, body = await call(client, "GET", "/api/auth/me", pair["access_token"])
        assert status == 401, body
    async with client.post(
        "/api/auth/refresh", json={"refresh_token": second["refresh_token"]}
    ) as response:
        assert response.status == 401
    code, text, _ = await closed_with(socket)
    assert code == CLOSE_SESSION_REVOKED and "refresh token reused" in text
    # Signing in again works.
    async with client.post(
        "/api/auth/login", json={"username": "mia", "password": PASSWORD}
    ) as response:
        fresh = await response.json()
    status, _ = await call(client, "GET", "/api/auth/me", fresh["access_token"])
    assert status == 200


async def test_a_change_made_by_another_process_closes_the_socket_at_the_next_recheck(
    hub_factory, integrations, hub_client, monkeypatch
):
    """The CLI writes to the same database without this hub's event bus: the periodic
    re-check of the socket's token catches it."""
    monkeypatch.setattr(websocket_session, "RECHECK_INTERVAL", 0.2)
    hub = await hub_factory(hub_config(auth_config(user_cache_ttl=0)), integrations=integrations)
    cast = await make_cast(hub)
    client = await hub_client(hub)
    socket = await open_socket(client, cast.token(cast.member))
    store = get_user_store(hub)
    other_process = UserStore(
        hub.db.require_engine(),
        store.passwords,
        station_id=store.station_id,
        station_name=store.station_name,
    )

    await other_process.update_user(cast.member.id, active=False)

    code, text, _ = await closed_with(socket)
    assert code == CLOSE_SESSION_REVOKED and "deactivated" in text


@pytest.fixture
async def provisioning_hub(hub_factory, integrations, monkeypatch, tmp_path):
    """The real auth integration and BLE provisioning, whose feed works (reporting the
    scan unavailable) without Bluetooth: BlueZ is pointed at a bus that does not exist."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    config = hub_config(auth_config(leeway=0))
    config["ble_provisioning"] = {}
    hub = await hub_factory(config, integrations=integrations)
    return hub, await make_cast(hub)


async def test_the_provisioning_feed_closes_when_its_user_is_deactivated(
    provisioning_hub, hub_client
):
    hub, cast = provisioning_hub
    client = await hub_client(hub)
    feed = await open_socket(client, cast.token(cast.member), "/api/provisioning/ws")
    other = await open_socket(client, cast.token(cast.admin), "/api/provisioning/ws")

    await cast.store.update_user(cast.member.id, active=False)

    code, text, _ = await closed_with(feed)
    assert code == CLOSE_SESSION_REVOKED and "user deactivated" in text
    assert await still_open(other, "/api/provisioning/ws")


async def test_the_provisioning_feed_closes_when_its_token_expires(provisioning_hub, hub_client):
    hub, cast = provisioning_hub
    client = await hub_client(hub)
    now = time.time()
    token = mint(claims_for(cast.member, iat=now, exp=now + 1.5))
    feed = await open_socket(client, token, "/api/provisioning/ws")

    code, text, closed_at = await closed_with(feed)

    assert code == CLOSE_SESSION_EXPIRED and "expired" in text
    assert closed_at >= now + 1.5 - 0.05
