"""Browser-borne attacks on a real hub: form posts, foreign origins, DNS rebinding.

Each test speaks to a real hub on loopback with an aiohttp client that sends the headers a
browser would send for the attack: ``Content-Type: text/plain`` (an HTML form), a foreign
``Origin``, or a ``Host`` naming the attacker's domain after a DNS rebinding.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from yarl import URL

from hub.core import Hub
from hub.http.hosts import HostPolicy, same_origin, split_host
from plugins.auth import get_user_store
from tests.core.conftest import TOKENS
from tests.core.fake_integrations import host_guarded

SECRET = "test-secret-that-is-long-enough-for-hs256-and-for-hs512-0123456789"
FAST_HASHING = {"time_cost": 1, "memory_kib": 8192, "parallelism": 1}
CREDENTIALS = {"username": "olivia", "password": "correct horse battery staple"}
FORM_BODY = b'{"username": "mallory", "password": "correct horse battery staple"}'


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JWT_SECRET", "HUB_JWT_SECRET", "AGENT_TOKEN", "HUB_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)


async def fresh_hub(hub_factory: Any, **http: Any) -> Hub:
    """An unclaimed hub with the real auth integration: onboarding is open."""
    return await hub_factory(
        {
            "hub": {"http": http} if http else {},
            "auth": {"jwt_secret": SECRET, "password_hashing": FAST_HASHING},
        }
    )


async def user_count(hub: Hub) -> int:
    return await get_user_store(hub).count_users()


def port_of(hub: Hub) -> int:
    port = URL(hub.http_url).port
    assert port is not None
    return port


async def test_an_html_form_cannot_claim_a_fresh_hub(hub_factory, hub_client):
    hub = await fresh_hub(hub_factory)
    client = await hub_client(hub)
    # What <form enctype="text/plain" action="http://hub:8123/api/auth/onboarding"> sends.
    async with client.post(
        "/api/auth/onboarding",
        data=FORM_BODY,
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    ) as response:
        assert response.status == 403
        body = await response.json()
    assert body["error"]["code"] == "origin_not_allowed"
    assert "cors_origins" in body["error"]["message"]
    # Without an Origin (old browsers, privacy extensions) the content type still stops it.
    async with client.post(
        "/api/auth/onboarding", data=FORM_BODY, headers={"Content-Type": "text/plain"}
    ) as response:
        assert response.status == 415
        body = await response.json()
    assert body["error"]["code"] == "unsupported_media_type"
    assert "application/json" in body["error"]["message"]
    assert await user_count(hub) == 0
    # The hub's own page (same host and port) onboards normally.
    origin = f"http://127.0.0.1:{port_of(hub)}"
    async with client.post(
        "/api/auth/onboarding", json=CREDENTIALS, headers={"Origin": origin}
    ) as response:
        assert response.status == 201
    assert await user_count(hub) == 1


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
async def test_every_json_body_needs_the_json_content_type(
    authed_hub, hub_client, content_type: str
):
    await authed_hub.devices.handshake("lamp-1", device_type="lamp", transport="echo")
    device = authed_hub.devices.by_external_id("lamp-1")
    client = await hub_client(authed_hub, token="owner-token")
    async with client.post(
        f"/api/devices/{device.id}/commands",
        data=b'{"command": "toggle"}',
        headers={"Content-Type": content_type},
    ) as response:
        assert response.status == 415
        assert (await response.json())["error"]["code"] == "unsupported_media_type"
    async with client.post(
        f"/api/devices/{device.id}/commands",
        data=b'{"command": "toggle"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    ) as response:
        assert response.status == 202


async def test_foreign_origins_may_not_change_state_but_may_read(hub_factory, fakes, hub_client):
    hub = await hub_factory(
        {
            "hub": {"http": {"cors_origins": ["http://portal.local:3000"]}},
            "static_auth": {"users": TOKENS},
            "echo": {},
        },
        integrations=fakes,
    )
    client = await hub_client(hub, token="owner-token")
    own = f"http://127.0.0.1:{port_of(hub)}"
    for origin, status in [
        ("http://evil.example", 403),
        ("null", 403),  # sandboxed iframes and file: pages
        (f"http://127.0.0.1:{port_of(hub) + 1}", 403),  # same host, another port
        ("http://127.0.0.1", 403),  # port 80 is not the hub's
        ("http://portal.local:3000", 200),  # configured
        (own, 200),  # the hub's own page
    ]:
        async with client.post("/api/echo/admin", headers={"Origin": origin}) as response:
            assert response.status == status, origin
    # Reads are not refused (CORS keeps a foreign page from reading the answer), and
    # neither is a client that sends no Origin (scripts, curl, the cloud).
    async with client.get("/api/echo/secret", headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 200
    async with client.post("/api/echo/admin") as response:
        assert response.status == 200


async def test_a_rebound_host_name_cannot_onboard(hub_factory, hub_client):
    hub = await fresh_hub(hub_factory, allowed_hosts=["hub.example.org", "*.site.lan"])
    client = await hub_client(hub)
    port = port_of(hub)
    # After a DNS rebinding the browser thinks it talks to evil.example: its Origin and
    # Host both say so, so the origin check alone sees a same-origin request.
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    async with client.post("/api/auth/onboarding", json=CREDENTIALS, headers=rebound) as r:
        assert r.status == 421
        body = await r.json()
    assert body["error"]["code"] == "host_not_allowed"
    assert "allowed_hosts" in body["error"]["message"]
    assert await user_count(hub) == 0
    for host in ["hub.example.org", "box.site.lan", "station-42.local", "localhost"]:
        async with client.post(
            "/api/auth/onboarding", json=CREDENTIALS, headers={"Host": f"{host}:{port}"}
        ) as response:
            # 201 the first time, then "closed": either way the name was accepted.
            assert response.status in (201, 403), host
            if response.status == 403:
                assert (await response.json())["error"]["code"] == "onboarding_closed"
    assert await user_count(hub) == 1


async def test_an_integration_can_ask_for_the_host_check(hub_factory, hub_client):
    host_guarded.GUARDED["now"] = True
    hub = await hub_factory({"host_guarded": {}}, integrations={"host_guarded": host_guarded})
    client = await hub_client(hub)
    evil = {"Host": f"evil.example:{port_of(hub)}"}
    async with client.get("/api/guarded/ping", headers=evil) as response:
        assert response.status == 421
    async with client.get("/api/guarded/ping") as response:  # Host: 127.0.0.1:port
        assert response.status == 200
    host_guarded.GUARDED["now"] = False
    async with client.get("/api/guarded/ping", headers=evil) as response:
        assert response.status == 200


def test_host_names_the_hub_answers_to() -> None:
    assert split_host("[::1]:8123") == ("::1", 8123)
    assert split_host("Hub.Local.:80") == ("hub.local", 80)
    assert split_host("example") == ("example", None)
    assert same_origin("http://hub.local", "hub.local:80")
    assert same_origin("https://hub.example", "hub.example")
    assert not same_origin("http://hub.local:8124", "hub.local:8123")
    assert not same_origin("null", "hub.local")
    policy = HostPolicy(["10.0.0.0/8", "*.site.lan"], own_names=["station-42"])

    def request(host: str, local: str = "192.168.1.5") -> Any:
        transport = SimpleNamespace(
            get_extra_info=lambda name, default=None: (
                (local, 8123) if name == "sockname" else default
            )
        )
        return make_mocked_request("POST", "/", headers={"Host": host}, transport=transport)

    for host in [
        "station-42:8123",
        "192.168.1.5:8123",  # the address the request arrived on
        "10.20.30.40",
        "[::1]:8123",
        "127.0.0.2",
        "box.site.lan",
        "anything.local",
        "LOCALHOST:8123",
    ]:
        assert policy.answers_to(request(host)), host
    # A dual-stack socket sees an IPv4 client's connection on ::ffff:a.b.c.d.
    assert policy.answers_to(request("192.168.1.5:8123", local="::ffff:192.168.1.5"))
    for host in ["192.168.1.6", "evil.example", "site.lan.evil.example", "", "local"]:
        assert not policy.answers_to(request(host)), host


def test_an_allowed_host_that_is_not_a_name_is_a_config_error() -> None:
    import voluptuous as vol

    from hub.config import CORE_SCHEMA

    with pytest.raises(vol.Invalid):
        CORE_SCHEMA({"http": {"allowed_hosts": ["http://hub.example/"]}})
    config = CORE_SCHEMA({"http": {"allowed_hosts": ["Hub.Example", "*.lan", "10.0.0.0/8"]}})
    assert config["http"]["allowed_hosts"] == ["hub.example", "*.lan", "10.0.0.0/8"]
