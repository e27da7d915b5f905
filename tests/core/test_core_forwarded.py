"""X-Forwarded-For is believed only from configured proxies, on a real loopback server."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.config import validate_core
from hub.http.forwarded import MAX_HOPS, forwarded_middleware
from hub.http.middleware import error_middleware
from hub.yaml_loader import ConfigError

Serve = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    clients: list[TestClient] = []

    async def start(*trusted: str) -> TestClient:
        async def remote(request: web.Request) -> web.Response:
            return web.json_response({"remote": request.remote})

        networks = [ipaddress.ip_network(value) for value in trusted]
        app = web.Application(middlewares=[error_middleware, forwarded_middleware(networks)])
        app.router.add_get("/remote", remote)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def remote_seen(client: TestClient, forwarded: str | None) -> str:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    async with client.get("/remote", headers=headers) as response:
        assert response.status == 200
        return (await response.json())["remote"]


async def test_without_trusted_proxies_the_header_is_ignored(serve):
    client = await serve()
    assert await remote_seen(client, "203.0.113.9") == "127.0.0.1"


async def test_a_peer_that_is_not_a_trusted_proxy_cannot_spoof(serve):
    client = await serve("10.0.0.0/8")
    assert await remote_seen(client, "203.0.113.9") == "127.0.0.1"


@pytest.mark.parametrize(
    ("trusted", "forwarded", "client_address"),
    [
        (("127.0.0.1",), "203.0.113.9", "203.0.113.9"),
        # A client may prepend anything; the right-most untrusted hop is what a proxy saw.
        (("127.0.0.1",), "198.51.100.1, 203.0.113.9", "203.0.113.9"),
        (("127.0.0.1", "10.0.0.0/8"), "203.0.113.9, 10.1.2.3", "203.0.113.9"),
        (("127.0.0.1", "10.0.0.0/8"), "10.9.9.9, 10.1.2.3", "10.9.9.9"),
        (("127.0.0.1",), "2001:db8::7", "2001:db8::7"),
        (("127.0.0.1",), None, "127.0.0.1"),
    ],
)
async def test_a_trusted_proxy_names_the_client(serve, trusted, forwarded, client_address):
    client = await serve(*trusted)
    assert await remote_seen(client, forwarded) == client_address


@pytest.mark.parametrize(
    ("forwarded", "message"),
    [
        ("not an address", "comma-separated list of IP addresses"),
        ("203.0.113.9,,10.0.0.1", "comma-separated list of IP addresses"),
        (", ".join(["10.0.0.1"] * (MAX_HOPS + 1)), f"more than {MAX_HOPS}"),
    ],
)
async def test_a_malformed_header_from_a_trusted_proxy_is_a_clear_400(serve, forwarded, message):
    client = await serve("127.0.0.1")
    async with client.get("/remote", headers={"X-Forwarded-For": forwarded}) as response:
        assert response.status == 400
        assert message in (await response.json())["error"]["message"]


def test_trusted_proxies_are_validated_in_the_yaml():
    core = validate_core({"hub": {"http": {"trusted_proxies": ["127.0.0.1", "fd00::/8"]}}})
    assert [str(net) for net in core["http"]["trusted_proxies"]] == ["127.0.0.1/32", "fd00::/8"]
    with pytest.raises(ConfigError) as caught:
        validate_core({"hub": {"http": {"trusted_proxies": ["nginx.local"]}}})
    assert "'nginx.local' is not an IP address or network" in str(caught.value)
