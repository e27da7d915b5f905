"""The core's WebSocket API and OpenAPI document, served through the auth schemes."""

from __future__ import annotations

import asyncio

import pytest

from hub.http.websocket.messages import HA_VERSION
from tests.auth.conftest import claims_for, mint


async def websocket_auth(client, token):
    async with client.ws_connect("/api/websocket") as socket:
        first = await asyncio.wait_for(socket.receive_json(), 5)
        assert first["type"] == "auth_required" and first["ha_version"] == HA_VERSION
        await socket.send_json({"type": "auth", "access_token": token})
        answer = await asyncio.wait_for(socket.receive_json(), 5)
        if answer["type"] == "auth_ok":
            assert answer["ha_version"] == HA_VERSION  # what HA's clients read
            await socket.send_json({"id": 1, "type": "ping"})
            assert await asyncio.wait_for(socket.receive_json(), 5) == {"id": 1, "type": "pong"}
        return answer


async def test_websocket_accepts_jwts_and_api_tokens(auth_hub, cast, hub_client):
    client = await hub_client(auth_hub)
    assert (await websocket_auth(client, cast.token(cast.member)))["type"] == "auth_ok"
    _, secret = await cast.sessions.create_api_token(cast.member.id, "ws script")
    assert (await websocket_auth(client, secret))["type"] == "auth_ok"


@pytest.mark.parametrize(
    "make_token",
    [
        lambda cast: "not-a-jwt",
        lambda cast: mint(
            claims_for(cast.member), secret="wrong-secret-but-long-enough-0123456789"
        ),
        lambda cast: cast.token(cast.inactive),
        lambda cast: mint(claims_for(cast.member, exp=1)),
        lambda cast: "shub_unknown",
    ],
    ids=["garbage", "wrong-secret", "inactive-user", "expired", "unknown-api-token"],
)
async def test_websocket_refuses_bad_tokens(auth_hub, cast, hub_client, make_token):
    client = await hub_client(auth_hub)
    answer = await websocket_auth(client, make_token(cast))
    assert answer["type"] == "auth_invalid"
    assert answer["message"]


async def test_websocket_refuses_a_deleted_user(auth_hub, cast, hub_client):
    client = await hub_client(auth_hub)
    token = cast.token(cast.member)
    assert (await websocket_auth(client, token))["type"] == "auth_ok"
    await cast.store.delete_user(cast.member.id)
    assert (await websocket_auth(client, token))["type"] == "auth_invalid"


async def test_openapi_describes_the_schemes_and_the_auth_routes(auth_hub, hub_client):
    client = await hub_client(auth_hub)
    async with client.get("/api/openapi.json") as response:
        document = await response.json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["user"]["bearerFormat"] == "JWT"
    assert schemes["device"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Device-Token",
        "description": "The device's token (Device-Token is accepted too).",
    }
    assert schemes["agent"]["scheme"] == "bearer"
    paths = document["paths"]
    assert paths["/api/auth/login"]["post"]["security"] == []
    assert paths["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "required"
    ] == ["username", "password"]
    assert paths["/api/auth/me"]["get"]["security"] == [{"user": []}]
    assert paths["/api/test/station/invite"]["post"]["x-required-station-roles"] == ["owner"]
