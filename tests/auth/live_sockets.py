"""A WebSocket client for the hub's authenticated sockets, and a wait for their close.

Shared by the live-session tests of the auth, provisioning and cloud-link suites: every
socket that authenticates in-band (``/api/websocket``, ``/api/provisioning/ws``) must
close with a documented code when its session ends.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

WAIT = 5.0
CLOSING = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


async def open_socket(
    client: aiohttp.ClientSession, token: str, path: str = "/api/websocket"
) -> aiohttp.ClientWebSocketResponse:
    """Connect and pass the auth phase; fails the test unless the hub says auth_ok."""
    socket = await client.ws_connect(path)
    first = await socket.receive_json(timeout=WAIT)
    assert first["type"] == "auth_required", first
    await socket.send_json({"type": "auth", "access_token": token})
    answer = await socket.receive_json(timeout=WAIT)
    assert answer["type"] == "auth_ok", answer
    return socket


async def closed_with(
    socket: aiohttp.ClientWebSocketResponse, within: float = WAIT
) -> tuple[int, str, float]:
    """The server's close code and reason, and when it came (time.time()); frames sent
    before the close are skipped. Fails with a timeout if the server never closes."""
    async with asyncio.timeout(within):
        while True:
            message = await socket.receive()
            if message.type == aiohttp.WSMsgType.CLOSE:
                return int(message.data), str(message.extra or ""), time.time()
            if message.type in CLOSING:
                return int(socket.close_code or 0), str(message.extra or ""), time.time()


async def still_open(socket: aiohttp.ClientWebSocketResponse, path: str = "/api/websocket") -> bool:
    """Whether the socket still answers a ping (proves a close was aimed, not global)."""
    if path == "/api/websocket":
        await socket.send_json({"id": 999_999, "type": "ping"})
        expected = {"id": 999_999, "type": "pong"}
    else:
        await socket.send_json({"type": "ping", "id": 7})
        expected = {"type": "pong", "id": 7}
    async with asyncio.timeout(WAIT):
        while True:
            message = await socket.receive()
            if message.type in CLOSING:
                return False
            if message.type == aiohttp.WSMsgType.TEXT and message.json() == expected:
                return True
