"""The HTTP server: errors, limits, headers, fail-closed auth, HEAD and OPTIONS, OpenAPI."""

import pytest

from tests.core.conftest import TOKENS


async def test_user_routes_fail_closed_without_an_auth_integration(hub_factory, fakes, hub_client):
    hub = await hub_factory({"echo": {}}, integrations=fakes)
    client = await hub_client(hub, token="owner-token")
    for method, path in [
        ("GET", "/api/devices"),
        ("HEAD", "/api/devices"),
        ("GET", "/api/echo/secret"),
        ("POST", "/api/echo/admin"),
        ("GET", "/api/device-types"),
    ]:
        async with client.request(method, path) as response:
            assert response.status == 401, (method, path)
            if method != "HEAD":
                body = await response.json()
                assert body["error"]["code"] == "auth_unavailable"


@pytest.mark.parametrize(
    ("method", "path", "token", "status"),
    [
        ("GET", "/api/echo/secret", None, 401),
        ("HEAD", "/api/echo/secret", None, 401),
        ("GET", "/api/echo/secret", "wrong", 401),
        ("GET", "/api/echo/secret", "user-token", 200),
        ("HEAD", "/api/echo/secret", "user-token", 200),
        ("POST", "/api/echo/admin", "user-token", 403),
        ("POST", "/api/echo/admin", "owner-token", 200),
        ("POST", "/api/echo/claim", "owner-token", 200),
        ("POST", "/api/echo/claim", "agent-secret", 200),
        ("POST", "/api/echo/claim", "user-token", 403),
        ("POST", "/api/echo/claim", "nobody", 401),
        ("POST", "/api/echo/claim", None, 401),
        ("GET", "/api/echo/greet", None, 200),
        ("PUT", "/api/echo/greet", None, 405),
        ("GET", "/api/nothing-here", None, 404),
    ],
)
async def test_route_auth_requirements(authed_hub, hub_client, method, path, token, status):
    client = await hub_client(authed_hub, token=token)
    async with client.request(method, path) as response:
        assert response.status == status
        if method != "HEAD" and status >= 400:
            body = await response.json()
            assert set(body["error"]) >= {"code", "message"}


async def test_options_never_reaches_a_handler(authed_hub, hub_client):
    client = await hub_client(authed_hub)
    async with client.options("/api/echo/secret") as response:
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "cors_refused"
    async with client.options(
        "/api/echo/secret",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    ) as response:
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_cors_preflight_for_a_configured_origin(hub_factory, fakes, hub_client):
    hub = await hub_factory(
        {
            "hub": {"http": {"cors_origins": ["http://portal.local:3000"]}},
            "static_auth": {"users": TOKENS},
            "echo": {},
        },
        integrations=fakes,
    )
    client = await hub_client(hub)
    origin = {"Origin": "http://portal.local:3000"}
    async with client.options(
        "/api/echo/secret", headers={**origin, "Access-Control-Request-Method": "GET"}
    ) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "http://portal.local:3000"
    async with client.get("/api/echo/secret", headers=origin) as response:
        # CORS never replaces auth.
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == "http://portal.local:3000"


async def test_security_headers_and_json_content_type(authed_hub, hub_client):
    client = await hub_client(authed_hub)
    async with client.get("/api/health") as response:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.content_type == "application/json"
    async with client.get("/api/missing") as response:
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_body_size_limit_is_a_json_413(hub_factory, fakes, hub_client):
    hub = await hub_factory(
        {"hub": {"http": {"max_body_bytes": 2048}}, "static_auth": {"users": TOKENS}},
        integrations=fakes,
    )
    client = await hub_client(hub, token="owner-token")
    big = b'{"command": "x", "params": {"pad": "' + b"a" * 4096 + b'"}}'
    async with client.post(
        "/api/devices/whatever/commands", data=big, headers={"Content-Type": "application/json"}
    ) as response:
        # 404 is checked first only if the body is read after; the limit applies on read.
        assert response.status in (404, 413)
    await hub.devices.handshake("lamp-1", device_type="lamp", transport="echo")
    device = hub.devices.by_external_id("lamp-1")
    async with client.post(
        f"/api/devices/{device.id}/commands",
        data=big,
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "payload_too_large"
    async with client.get("/api/health") as response:
        assert response.status == 200


async def test_openapi_lists_every_registered_route_with_its_security(authed_hub, hub_client):
    client = await hub_client(authed_hub)
    async with client.get("/api/openapi.json") as response:
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    for method, path in authed_hub.registrations.routes:
        assert method.lower() in document["paths"][path], (method, path)
    secret = document["paths"]["/api/echo/secret"]["get"]
    assert secret["security"] == [{"user": []}]
    assert document["paths"]["/api/health"]["get"]["security"] == []
    admin = document["paths"]["/api/echo/admin"]["post"]
    assert admin["x-required-roles"] == ["owner", "admin"]
    assert document["components"]["securitySchemes"]["user"]["scheme"] == "bearer"
    assert document["paths"]["/api/echo/claim"]["post"]["security"] == [{"user": []}, {"agent": []}]
    command = document["paths"]["/api/devices/{device_id}/commands"]["post"]
    assert command["parameters"][0]["name"] == "device_id"
    assert "415" in command["responses"]
    assert "X-Next-Cursor" in document["paths"]["/api/devices"]["get"]["description"]
    assert command["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "command"
    ]
