"""What an anonymous client on the LAN can learn or hold: health details, idle sockets."""

from __future__ import annotations

import asyncio
import contextlib

from yarl import URL

from hub.http.server import DEFAULT_HEADER_TIMEOUT
from tests.core.conftest import TOKENS


async def test_health_without_auth_says_only_whether_the_hub_is_up(hub_factory, fakes, hub_client):
    hub = await hub_factory(
        {
            "static_auth": {"users": {**TOKENS, "admin-token": "admin"}},
            "echo": {},
            "broken_setup": {},
        },
        integrations=fakes,
    )
    hub.add_health_info("echo", lambda: {"brokerUrl": "mqtt://10.0.0.2:1883"})
    client = await hub_client(hub)
    async with client.get("/api/health") as response:
        assert response.status == 200
        text = await response.text()
        public = await response.json()
    assert set(public) == {"status", "integrations"}
    assert public["integrations"]["broken_setup"] == "failed"
    assert "10.0.0.2" not in text and "frobnicator" not in text
    for token in ("owner-token", "admin-token"):
        async with client.get(
            "/api/health", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 200
            detailed = await response.json()
        assert detailed["details"]["echo"]["info"] == {"brokerUrl": "mqtt://10.0.0.2:1883"}
        assert "frobnicator" in detailed["details"]["broken_setup"]["error"]
    for token, status in (("user-token", 403), ("nonsense", 401)):
        async with client.get(
            "/api/health", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == status, token


async def _closed_within(host: str, port: int, head: bytes, bound: float) -> float:
    """Send ``head`` and then one more header byte every 50 ms; the seconds until the
    server closed the connection (fails if it is still open after ``bound``)."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    started = loop.time()
    writer.write(head)

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await asyncio.sleep(0.05)  # pacing the attack, not waiting for the server
                writer.write(b"a")
                await writer.drain()

    async def until_closed() -> bytes:
        # A server that closes with our trickled bytes unread makes TCP reset the
        # connection rather than end it: that is closed too, and what came before counts.
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(65536):
                received += chunk
        return received

    trickler = asyncio.create_task(trickle())
    try:
        data = await asyncio.wait_for(until_closed(), bound)
    finally:
        trickler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trickler
        writer.close()
    assert data == b""  # closed without an answer: there was no request to answer
    return loop.time() - started


async def test_a_request_head_that_never_ends_is_closed(hub_factory, fakes):
    hub = await hub_factory({"hub": {"http": {"header_timeout": 0.5}}}, integrations=fakes)
    url = URL(hub.http_url)
    assert url.host is not None and url.port is not None
    elapsed = await _closed_within(url.host, url.port, b"GET /api/health HTTP/1.1\r\nX-A: ", 5)
    assert 0.4 <= elapsed < 3


async def test_an_idle_connection_is_closed_too(hub_factory, fakes):
    hub = await hub_factory({"hub": {"http": {"header_timeout": 0.5}}}, integrations=fakes)
    url = URL(hub.http_url)
    assert url.host is not None and url.port is not None
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


def test_the_default_header_timeout_is_bounded() -> None:
    from hub.config import CORE_SCHEMA

    assert CORE_SCHEMA({})["http"]["header_timeout"] == DEFAULT_HEADER_TIMEOUT <= 30


async def test_a_body_that_never_ends_is_a_408_and_the_connection_closes(hub_factory, fakes):
    hub = await hub_factory(
        {
            "hub": {"http": {"body_timeout": 0.5}},
            "static_auth": {"users": TOKENS},
            "echo": {},
        },
        integrations=fakes,
    )
    device = await hub.devices.handshake("lamp-1", device_type="lamp", transport="echo")
    url = URL(hub.http_url)
    assert url.host is not None and url.port is not None
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(url.host, url.port)
    started = loop.time()
    try:
        writer.write(
            f"POST /api/devices/{device.id}/commands HTTP/1.1\r\n"
            f"Host: {url.host}:{url.port}\r\nAuthorization: Bearer owner-token\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            '{"command": '.encode()
        )
        answer = await asyncio.wait_for(reader.read(), 5)  # until the hub hangs up
    finally:
        writer.close()
    elapsed = loop.time() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert b'"request_timeout"' in answer
    assert 0.4 <= elapsed < 3
