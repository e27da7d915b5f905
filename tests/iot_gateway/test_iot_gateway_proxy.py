"""The /api/iot/* proxy routes, end to end: a real hub in front of the gateway double."""

from __future__ import annotations

import asyncio
import gzip
import logging
import sqlite3
import time

import pytest
from aiohttp.test_utils import TestServer

from hub.testing import free_port
from hub.timestamps import parse_iso
from plugins.iot_gateway import runtime_for
from tests.iot_gateway.gateway_double import APP_SECRET, Answer, GatewayDouble, auth, wait_until

VALUES = "/api/iot/codes/values"

PROXIED = {
    "/api/iot/codes/values": "/codes/values",
    "/api/iot/codes/history": "/codes/history",
    "/api/iot/codes/set": "/codes/set",
    "/api/iot/codes/force-set": "/codes/force-set",
    "/api/iot/alarms": "/alarms",
    "/api/iot/alarm-configs": "/alarm-configs",
}


@pytest.fixture
async def hub(start_hub):
    return await start_hub()


@pytest.fixture
async def client(hub, hub_client):
    return await hub_client(hub)


async def test_every_proxy_route_reaches_its_own_upstream_path(client, gateway):
    for hub_path, upstream_path in PROXIED.items():
        async with client.post(hub_path, data=b"{}", headers=auth("owner")) as response:
            assert response.status == 200, hub_path
            assert await response.json() == {"path": upstream_path, "ok": True}
    assert gateway.paths_received() == list(PROXIED.values())
    assert {item.method for item in gateway.received} == {"POST"}


# ---- who may call what ---------------------------------------------------------------


async def test_every_iot_route_needs_a_user(client, gateway):
    for path in PROXIED:
        async with client.post(path, data=b"{}") as response:
            assert response.status == 401, path
    async with client.get("/api/iot/token") as response:
        assert response.status == 401
    async with client.post(VALUES, data=b"{}", headers={"Authorization": "Bearer nope"}) as r:
        assert r.status == 401
    assert gateway.received == [] and gateway.logins == 0


@pytest.mark.parametrize(("role", "allowed"), [("user", False), ("admin", True), ("owner", True)])
async def test_force_set_needs_owner_or_admin(client, gateway, role, allowed):
    async with client.post(
        "/api/iot/codes/force-set", data=b'{"code":"P1","value":1}', headers=auth(role)
    ) as response:
        assert response.status == (200 if allowed else 403)
    assert gateway.paths_received() == (["/codes/force-set"] if allowed else [])


async def test_a_plain_user_may_read_and_set(client, gateway):
    for path in ("/api/iot/codes/values", "/api/iot/codes/set", "/api/iot/alarms"):
        async with client.post(path, data=b"{}", headers=auth("user")) as response:
            assert response.status == 200, path


@pytest.mark.parametrize(("role", "status"), [("user", 403), ("admin", 200), ("owner", 200)])
async def test_the_token_route_is_for_owner_and_admin(client, gateway, role, status):
    async with client.get("/api/iot/token", headers=auth(role)) as response:
        assert response.status == status
        if status == 200:
            body = await response.json()
            assert body["accessToken"] == gateway.issued[0]["accessToken"]
            assert abs(parse_iso(body["expiresAt"]) - (time.time() + 3600)) < 60
            assert response.headers["Cache-Control"] == "no-store"
            assert "refreshToken" not in body


# ---- bodies and statuses pass through unchanged ----------------------------------------

ODD_BODIES = [
    (
        b'{"b": 1,   "a": [1.0e3, 1E-7, -0.0], "a": "dup", "s": "\\u00e9\\ud83d\\ude00"}\n',
        "application/json",
    ),
    (b"[1,2,3", "application/json"),
    (b"\x00\x01\xff\xfe binary \r\n\x7f", "application/octet-stream"),
    (b"code=P1&value=%20", "application/x-www-form-urlencoded"),
    (b"", "application/json"),
    ("caf\u00e9 \u2603".encode("utf-16"), "text/plain; charset=utf-16"),
]


@pytest.mark.parametrize(("body", "content_type"), ODD_BODIES)
async def test_bodies_are_relayed_byte_for_byte_both_ways(client, gateway, body, content_type):
    gateway.answers["/codes/history"] = Answer(
        201, body, {"Content-Type": content_type, "X-Upstream": "yes"}
    )
    async with client.post(
        "/api/iot/codes/history",
        data=body,
        headers={**auth("user"), "Content-Type": content_type},
    ) as response:
        relayed = await response.read()
        assert response.status == 201
        assert response.headers["Content-Type"] == content_type
        assert response.headers["X-Upstream"] == "yes"
    assert relayed == body
    assert gateway.received[-1].body == body
    assert gateway.received[-1].headers["Content-Type"] == content_type


async def test_a_large_body_is_relayed_intact(client, gateway):
    body = bytes(range(256)) * 2048  # 512 KiB, below the hub's 1 MiB request limit
    gateway.answers["/codes/set"] = Answer(200, body[::-1], {"Content-Type": "application/x-raw"})
    async with client.post("/api/iot/codes/set", data=body, headers=auth("user")) as response:
        assert await response.read() == body[::-1]
    assert gateway.received[-1].body == body


@pytest.mark.parametrize("status", [202, 204, 400, 403, 404, 409, 418, 500, 503])
async def test_upstream_status_and_body_come_back_unchanged(client, gateway, status):
    body = b"" if status == 204 else b'{"code": 17, "msg": "upstream says so"}'
    gateway.answers["/alarms"] = Answer(status, body, {"Content-Type": "application/json"})
    async with client.post("/api/iot/alarms", data=b"{}", headers=auth("user")) as response:
        assert response.status == status
        assert await response.read() == body


async def test_a_redirect_is_returned_not_followed(client, gateway):
    gateway.answers["/alarms"] = Answer(302, b"", {"Location": "http://127.0.0.1:1/elsewhere"})
    async with client.post(
        "/api/iot/alarms", data=b"{}", headers=auth("user"), allow_redirects=False
    ) as response:
        assert response.status == 302
        assert response.headers["Location"] == "http://127.0.0.1:1/elsewhere"
    assert gateway.paths_received() == ["/alarms"]


# ---- headers ---------------------------------------------------------------------------


async def test_credentials_and_hop_by_hop_headers_do_not_reach_the_gateway(client, gateway):
    headers = {
        **auth("user"),
        "Cookie": "session=portal-cookie",
        "X-Device-Token": "device-secret",
        "Proxy-Authorization": "Basic cHJveHk6cHJveHk=",
        "Connection": "keep-alive, X-Per-Hop",
        "X-Per-Hop": "drop me",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Upgrade": "websocket",
        "X-Request-Id": "req-42",
        "Accept-Language": "de",
        "Content-Type": "application/json",
    }
    async with client.post(
        VALUES, data=b"{}", headers=headers, skip_auto_headers=("Accept-Encoding",)
    ) as response:
        assert response.status == 200
    received = gateway.received[-1].headers
    assert received["Authorization"] == f"Bearer {gateway.issued[0]['accessToken']}"
    assert len(received.getall("Authorization")) == 1
    for name in (
        "Cookie",
        "X-Device-Token",
        "Proxy-Authorization",
        "X-Per-Hop",
        "Keep-Alive",
        "TE",
        "Upgrade",
    ):
        assert name not in received, name
    assert "user-token" not in str(dict(received))
    assert received["X-Request-Id"] == "req-42"
    assert received["Accept-Language"] == "de"
    assert received["Accept-Encoding"] == "identity"


@pytest.mark.parametrize(
    "name",
    [
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "X-Forwarded-Proto",
        "X-Forwarded-Prefix",
        "Forwarded",
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-HTTP-Method-Override",
        "X-Method-Override",
        "X-Real-IP",
        "X-Client-IP",
        "True-Client-IP",
        "X-Api-Key",
        "X-Anything-Nobody-Thought-Of",
    ],
)
async def test_only_allow_listed_headers_reach_the_gateway(client, gateway, name):
    values = {
        "Forwarded": "for=10.0.0.1;host=gateway.internal;proto=https",
        "X-Original-URL": "/auth/token",
        "X-Rewrite-URL": "/codes/force-set",
        "X-HTTP-Method-Override": "DELETE",
    }
    headers = {
        **auth("user"),
        name: values.get(name, "10.0.0.1"),
        "Content-Type": "application/json",
        "Accept": "application/json",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "X-Request-Id": "req-43",
    }
    async with client.post(VALUES, data=b"{}", headers=headers) as response:
        assert response.status == 200
    received = gateway.received[-1].headers
    assert name not in received
    assert received["X-Request-Id"] == "req-43"
    assert received["traceparent"].startswith("00-0af7651916cd43dd")
    assert received["Content-Type"] == "application/json"
    assert received["Accept"] == "application/json"
    assert gateway.paths_received()[-1] == "/codes/values"


async def test_an_allowed_header_named_in_connection_is_still_hop_by_hop(client, gateway):
    headers = {**auth("user"), "Connection": "X-Request-Id", "X-Request-Id": "req-44"}
    async with client.post(VALUES, data=b"{}", headers=headers) as response:
        assert response.status == 200
    assert "X-Request-Id" not in gateway.received[-1].headers


async def test_credentials_and_hop_by_hop_headers_do_not_reach_the_caller(client, gateway):
    gateway.answers["/codes/values"] = Answer(
        200,
        b'{"v": 1}',
        [
            ("Content-Type", "application/json"),
            ("Set-Cookie", "gw_session=secret; HttpOnly"),
            ("Set-Cookie", "other=1"),
            ("WWW-Authenticate", 'Bearer realm="gateway"'),
            ("Proxy-Authenticate", "Basic"),
            ("Connection", "X-Hop-Only"),
            ("X-Hop-Only", "1"),
            ("Keep-Alive", "timeout=99"),
            ("Access-Control-Allow-Origin", "*"),
            ("X-Gateway-Trace", "abc"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
        ],
    )
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert await response.read() == b'{"v": 1}'
        got = response.headers
    for name in (
        "Set-Cookie",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "X-Hop-Only",
        "Access-Control-Allow-Origin",
    ):
        assert name not in got, name
    assert got.get("Keep-Alive") != "timeout=99"
    assert got["X-Gateway-Trace"] == "abc"
    assert got.getall("X-Multi") == ["one", "two"]
    assert not client.cookie_jar.filter_cookies(client._base_url)


async def test_a_gzip_answer_is_relayed_still_compressed(client, gateway):
    payload = gzip.compress(b'{"values": [1, 2, 3]}')
    gateway.answers["/codes/values"] = Answer(
        200, payload, {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    async with client.post(
        VALUES,
        data=b"{}",
        headers={**auth("user"), "Accept-Encoding": "gzip"},
        auto_decompress=False,
    ) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert await response.read() == payload
    assert gateway.received[-1].headers["Accept-Encoding"] == "gzip"


# ---- the caller cannot pick the upstream path ------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/iot/auth/token",
        "/api/iot/auth/refresh",
        "/api/iot/codes/values/../../auth/token",
        "/api/iot/codes/%2e%2e/%2e%2e/auth/refresh",
        "/api/iot/codes",
        "/api/iot/codes/values/extra",
        "/api/iot/objects/../codes/delete",
        "/api/iot/http://127.0.0.1/auth/token",
    ],
)
async def test_no_caller_path_reaches_another_upstream_path(client, gateway, path):
    async with client.post(path, data=b"{}", headers=auth("owner")) as response:
        assert response.status in (404, 405), path
    assert gateway.received == []
    assert gateway.refresh_requests == 0 and gateway.logins == 0


async def test_the_query_string_is_not_forwarded(client, gateway):
    async with client.post(
        VALUES + "?path=/auth/token&x=1", data=b"{}", headers=auth("user")
    ) as response:
        assert response.status == 200
    assert gateway.received[-1].path == "/codes/values"
    assert gateway.received[-1].query == ""


async def test_paths_come_from_the_configured_map(start_hub, hub_client, gateway):
    gateway.token_path = "/gw/v2/oauth/app"
    gateway.refresh_path = "/gw/v2/oauth/renew"
    hub = await start_hub(
        {
            "base_url": gateway.base_url + "/gw/v2/",
            "paths": {"codes_values": "/points/read", "token": "/oauth/app"},
        }
    )
    client = await hub_client(hub)
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    async with client.post("/api/iot/alarms", data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    assert gateway.logins == 1
    assert gateway.paths_received() == ["/gw/v2/points/read", "/gw/v2/alarms"]


# ---- the gateway down, slow, or too talkative --------------------------------------------


async def test_an_unreachable_gateway_is_a_502_with_a_clear_error(start_hub, hub_client):
    hub = await start_hub({"base_url": f"http://127.0.0.1:{free_port()}"})
    client = await hub_client(hub)
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 502
        error = (await response.json())["error"]
    assert error["code"] == "gateway_unreachable"
    assert "could not be reached" in error["message"]


async def test_a_gateway_that_goes_down_mid_life_is_a_502_and_the_hub_keeps_serving(
    client, gateway
):
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    await gateway.server.close()
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 502
        assert (await response.json())["error"]["code"] == "gateway_unreachable"
    # The hub keeps serving, and says the gateway is the problem.
    async with client.get("/api/health") as response:
        assert (await response.json())["integrations"]["iot_gateway"] == "unavailable"


async def test_nothing_at_the_address_is_unavailable_with_the_reason_until_it_answers(
    start_hub, hub_client
):
    port = free_port()
    hub = await start_hub({"base_url": f"http://127.0.0.1:{port}/"})
    assert hub.integration_state("iot_gateway") == "unavailable"
    reason = hub.integrations["iot_gateway"].error
    assert f"127.0.0.1:{port} does not answer" in reason and "iot_gateway.base_url" in reason
    client = await hub_client(hub)
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 502
    # A gateway appears at that address: the next call reaches it and the state follows.
    double = GatewayDouble()
    server = TestServer(double.app(), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
            assert response.status == 200
        assert hub.integration_state("iot_gateway") == "running"
        assert hub.integrations["iot_gateway"].error is None
    finally:
        await server.close()


async def test_a_slow_gateway_is_a_504_after_the_configured_timeout(start_hub, hub_client, gateway):
    hub = await start_hub({"timeout": 0.3})
    client = await hub_client(hub)
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 200  # logs in first, so only the relayed call is slow
    gateway.stalled["/codes/values"] = asyncio.Event()
    started = time.monotonic()
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        elapsed = time.monotonic() - started
        assert response.status == 504
        error = (await response.json())["error"]
    assert error["code"] == "gateway_timeout"
    assert "0.3 s" in error["message"]
    assert 0.25 <= elapsed < 3


async def test_a_slow_token_call_is_a_504_too(start_hub, hub_client, gateway):
    hub = await start_hub({"timeout": 0.3})
    gateway.stalled["/auth/token"] = asyncio.Event()
    client = await hub_client(hub)
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 504
        assert (await response.json())["error"]["code"] == "gateway_timeout"
    assert gateway.received == [] and gateway.logins == 0


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_answer_over_the_size_limit_is_a_502(start_hub, hub_client, gateway, chunked):
    hub = await start_hub({"max_response_bytes": 4096})
    client = await hub_client(hub)
    gateway.answers["/alarms"] = Answer(200, b"x" * 4097, chunked=chunked)
    async with client.post("/api/iot/alarms", data=b"{}", headers=auth("user")) as response:
        assert response.status == 502
        error = (await response.json())["error"]
    assert error["code"] == "gateway_response_too_large"
    assert "4096" in error["message"]
    gateway.answers["/alarms"] = Answer(200, b"y" * 4096, chunked=chunked)
    async with client.post("/api/iot/alarms", data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
        assert await response.read() == b"y" * 4096


async def test_a_request_body_over_the_hub_limit_is_refused_before_the_gateway(client, gateway):
    async with client.post(VALUES, data=b"x" * (1024 * 1024 + 1), headers=auth("user")) as response:
        assert response.status == 413
    assert gateway.received == []


async def test_gateway_credentials_that_stop_working_are_a_502_not_a_401(client, gateway):
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    gateway.reject_all_tokens = True
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 502
        assert "WWW-Authenticate" not in response.headers
        assert (await response.json())["error"]["code"] == "gateway_auth_failed"


async def test_without_an_app_secret_or_a_stored_token_the_proxy_answers_502(
    start_hub, hub_client, gateway, monkeypatch
):
    monkeypatch.delenv("APP_SECRET", raising=False)
    monkeypatch.delenv("HUB_APP_SECRET", raising=False)
    hub = await start_hub({"app_secret": None})
    client = await hub_client(hub)
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 502
        error = (await response.json())["error"]
    assert error["code"] == "gateway_auth_failed"
    assert "app_secret" in error["message"]
    assert gateway.received == []


# ---- tokens through the whole hub ----------------------------------------------------------


def seed_token_row(hub, gateway, *, expires_in_ms: int, issued_ago_ms: int) -> dict:
    """Store a pair the double knows, as a previous run of the hub would have left it."""
    pair = gateway.issue()
    now = int(time.time() * 1000)
    with sqlite3.connect(hub.config_dir / "station-hub.db") as connection:
        connection.execute(
            "INSERT INTO iot_tokens (id, access_token, refresh_token, expires_at, issued_at) "
            "VALUES (1, ?, ?, ?, ?)",
            (pair["accessToken"], pair["refreshToken"], now + expires_in_ms, now - issued_ago_ms),
        )
    return pair


async def test_a_token_left_by_a_previous_run_is_used_without_logging_in(hub, client, gateway):
    pair = seed_token_row(hub, gateway, expires_in_ms=3_000_000, issued_ago_ms=600_000)
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    assert gateway.logins == 0 and gateway.refresh_requests == 0
    assert gateway.received[-1].token == pair["accessToken"]


async def test_a_hundred_concurrent_requests_on_an_expiring_token_cause_one_refresh(
    hub, client, gateway
):
    seed_token_row(hub, gateway, expires_in_ms=60_000, issued_ago_ms=3_540_000)
    gateway.hold_refresh = asyncio.Event()
    runtime = runtime_for(hub)
    assert runtime is not None
    tokens = runtime.gateway.tokens

    async def one(index: int) -> tuple[int, bytes]:
        body = f'{{"codes": ["P{index}"]}}'.encode()
        async with client.post(VALUES, data=body, headers=auth("user")) as response:
            return response.status, await response.read()

    requests = [asyncio.create_task(one(index)) for index in range(100)]
    await wait_until(lambda: tokens.waiting == 100, limit=20)
    await asyncio.wait_for(gateway.refresh_arrived.wait(), 5)
    gateway.hold_refresh.set()
    results = await asyncio.wait_for(asyncio.gather(*requests), 30)

    assert [status for status, _ in results] == [200] * 100
    assert gateway.refresh_requests == 1 and gateway.refreshes == 1 and gateway.logins == 0
    fresh = gateway.issued[-1]["accessToken"]
    assert [item.token for item in gateway.received] == [fresh] * 100
    assert sorted(item.body for item in gateway.received) == sorted(
        f'{{"codes": ["P{index}"]}}'.encode() for index in range(100)
    )


async def test_a_401_mid_life_is_hidden_by_one_refresh_and_one_retry(client, gateway):
    async with client.post(VALUES, data=b'{"n": 1}', headers=auth("user")) as response:
        assert response.status == 200
    gateway.revoke_access_tokens()
    async with client.post(VALUES, data=b'{"n": 2}', headers=auth("user")) as response:
        assert response.status == 200
    assert gateway.refreshes == 1 and gateway.logins == 1
    assert [item.body for item in gateway.received] == [b'{"n": 1}', b'{"n": 2}', b'{"n": 2}']


async def test_health_reports_the_token_state_without_the_token(client, gateway):
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    async with client.get("/api/health") as response:
        # Anonymous callers learn only that it runs, not where the gateway is.
        public = await response.text()
    assert '"iot_gateway":"running"' in public and "127.0.0.1" not in public
    async with client.get("/api/health", headers=auth("owner")) as response:
        text = await response.text()
        info = (await response.json())["details"]["iot_gateway"]["info"]
    assert info["running"] is True and info["tokenLogins"] == 1
    assert parse_iso(info["tokenExpiresAt"]) > time.time()
    for secret in gateway.all_secrets():
        assert secret not in text


async def test_no_token_or_secret_reaches_the_log_at_debug_level(
    start_hub, hub_client, gateway, caplog
):
    caplog.set_level(logging.DEBUG)
    hub = await start_hub(log_level="debug")
    client = await hub_client(hub)
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    gateway.revoke_access_tokens()
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    gateway.reject_all_tokens = True
    async with client.post(VALUES, data=b"{}", headers=auth("user")) as response:
        assert response.status == 502
    async with client.get("/api/iot/token", headers=auth("owner")) as response:
        assert response.status == 200
    assert gateway.logins == 1 and gateway.refreshes == 2
    assert "DEBUG    plugins.iot_gateway" in caplog.text  # DEBUG really was on
    for secret in [*gateway.all_secrets(), APP_SECRET]:
        assert secret not in caplog.text


async def test_the_token_route_reports_an_unreachable_gateway_as_502(start_hub, hub_client):
    hub = await start_hub({"base_url": f"http://127.0.0.1:{free_port()}"})
    client = await hub_client(hub)
    async with client.get("/api/iot/token", headers=auth("admin")) as response:
        assert response.status == 502
        assert (await response.json())["error"]["code"] == "gateway_unreachable"


async def test_openapi_lists_the_routes_with_their_roles(client):
    async with client.get("/api/openapi.json") as response:
        paths = (await response.json())["paths"]
    for path in [*PROXIED, "/api/iot/objects/sync"]:
        assert paths[path]["post"]["security"] == [{"user": []}], path
    assert paths["/api/iot/codes/force-set"]["post"]["x-required-roles"] == ["owner", "admin"]
    assert "x-required-roles" not in paths["/api/iot/codes/set"]["post"]
    assert paths["/api/iot/token"]["get"]["x-required-roles"] == ["owner", "admin"]
    assert paths["/api/iot/objects/{object_id}"]["patch"]["x-required-roles"] == [
        "owner",
        "admin",
    ]
