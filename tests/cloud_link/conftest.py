"""A real aiohttp WebSocket server on 127.0.0.1 that plays the cloud, and station-side helpers.

Nothing here is mocked: the station side runs the plugin's own socket, auth, session and
peer code against this server over TCP.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType, web

from plugins.cloud_link.jsonrpc import JsonRpcPeer, PeerLimits
from plugins.cloud_link.session import CloudSession, authenticate
from plugins.cloud_link.socket import open_socket

GOOD_TOKEN = "station-token-good"
WAIT = 5.0


class CloudConnection:
    """One station connected to the fake cloud; frames are read by a task into ``inbox``."""

    def __init__(self, ws: web.WebSocketResponse, token: Any) -> None:
        self.ws = ws
        self.token = token
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.stashed: list[Any] = []
        self.pings_seen = 0
        self.closed = asyncio.Event()
        self._ids = itertools.count(1000)

    async def next_text(self, within: float = WAIT) -> str:
        return await asyncio.wait_for(self.inbox.get(), within)

    async def next_json(self, within: float = WAIT) -> Any:
        return orjson.loads(await self.next_text(within))

    async def send(self, message: Any) -> None:
        text = message if isinstance(message, str) else orjson.dumps(message).decode()
        await self.ws.send_str(text)

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        """Send a request and return its response; other frames are stashed, in order."""
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await self.response_to(request_id)

    async def response_to(self, request_id: Any) -> dict[str, Any]:
        while True:
            frame = await self.next_json()
            if isinstance(frame, dict) and frame.get("id") == request_id and "method" not in frame:
                return frame
            self.stashed.append(frame)

    async def notification(self, method: str, within: float = WAIT) -> dict[str, Any]:
        """The next notification named ``method`` (from the stash first, then the wire)."""
        async with asyncio.timeout(within):
            while True:
                for index, frame in enumerate(self.stashed):
                    found = _find_notification(frame, method)
                    if found is not None:
                        self._unstash(index, frame, found)
                        return found
                self.stashed.append(await self.next_json(within))

    def _unstash(self, index: int, frame: Any, found: dict[str, Any]) -> None:
        if isinstance(frame, list):
            frame.remove(found)
            if frame:
                return
        del self.stashed[index]


def _find_notification(frame: Any, method: str) -> dict[str, Any] | None:
    items = frame if isinstance(frame, list) else [frame]
    for item in items:
        if isinstance(item, dict) and item.get("method") == method and "id" not in item:
            return item
    return None


@dataclass
class FakeCloud:
    """The cloud's /ws/station endpoint. Knobs are plain attributes tests flip at will."""

    accepted_tokens: set[str] = field(default_factory=lambda: {GOOD_TOKEN})
    answer_pings: bool = True
    # A cloud behind a load balancer whose backend is down: TCP works, the upgrade fails.
    refuse_upgrade: bool = False
    close_after_auth_failure: bool = True
    port: int = 0
    attempts: list[float] = field(default_factory=list)
    connections: asyncio.Queue[CloudConnection] = field(default_factory=asyncio.Queue)
    _runner: web.AppRunner | None = None
    _open: set[CloudConnection] = field(default_factory=set)
    _attempted: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/station"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws/station", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Go away like a crashed cloud: close every socket, stop listening."""
        for connection in list(self._open):
            await connection.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def next_connection(self, within: float = WAIT) -> CloudConnection:
        return await asyncio.wait_for(self.connections.get(), within)

    async def wait_attempts(self, count: int, within: float = WAIT) -> None:
        async with asyncio.timeout(within), self._attempted:
            await self._attempted.wait_for(lambda: len(self.attempts) >= count)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        async with self._attempted:
            self.attempts.append(asyncio.get_running_loop().time())
            self._attempted.notify_all()
        if self.refuse_upgrade:
            return web.Response(status=503, text="backend down")
        ws = web.WebSocketResponse(autoping=False, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        first = await ws.receive()
        token = None
        if first.type is WSMsgType.TEXT:
            token = orjson.loads(first.data).get("token")
        if token not in self.accepted_tokens:
            await ws.send_str('{"type": "auth_failed", "reason": "unknown station token"}')
            if self.close_after_auth_failure:
                await ws.close()
                return ws
        else:
            await ws.send_str('{"type": "auth_ok"}')
        connection = CloudConnection(ws, token)
        self._open.add(connection)
        await self.connections.put(connection)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await connection.inbox.put(message.data)
                elif message.type is WSMsgType.PING:
                    connection.pings_seen += 1
                    if self.answer_pings:
                        await ws.pong(message.data)
        finally:
            self._open.discard(connection)
            connection.closed.set()
        return ws


@pytest.fixture
async def fake_cloud() -> AsyncIterator[FakeCloud]:
    cloud = FakeCloud()
    await cloud.start()
    yield cloud
    await cloud.stop()


@dataclass
class RpcPair:
    """The station end of one authenticated session, and the cloud end of the same socket."""

    cloud: CloudConnection
    station_peer: JsonRpcPeer
    session: CloudSession
    legacy: list[dict[str, Any]]
    ended: asyncio.Task[Any]

    async def cloud_receive(self, within: float = WAIT) -> str:
        return await self.cloud.next_text(within)


@pytest.fixture
async def rpc_pair(fake_cloud: FakeCloud) -> AsyncIterator[Callable[..., Any]]:
    http = aiohttp.ClientSession()
    pairs: list[RpcPair] = []

    async def make(
        lookup: Callable[[str], Any],
        *,
        heartbeat_interval: float = 30.0,
        max_frame_bytes: int = 64 * 1024,
        limits: PeerLimits | None = None,
    ) -> RpcPair:
        ws = await open_socket(
            http,
            fake_cloud.url,
            connect_timeout=WAIT,
            close_timeout=0.5,
            max_frame_bytes=max_frame_bytes,
        )
        await authenticate(ws, GOOD_TOKEN, within=WAIT, max_frame_bytes=max_frame_bytes)
        peer = JsonRpcPeer(ws.send_str, lookup, limits=limits, source="cloud")
        legacy: list[dict[str, Any]] = []
        session = CloudSession(
            ws,
            peer,
            legacy.append,
            heartbeat_interval=heartbeat_interval,
            max_frame_bytes=max_frame_bytes,
        )
        ended = asyncio.create_task(session.run())
        cloud = await fake_cloud.next_connection()
        pair = RpcPair(cloud, peer, session, legacy, ended)
        pairs.append(pair)
        return pair

    yield make
    for pair in pairs:
        pair.session.stop("test finished")
        await asyncio.wait_for(pair.ended, WAIT)
    await http.close()


# --- a real hub linked to the fake cloud -------------------------------------------------

USER_TOKENS = {"owner-token": "owner", "user-token": "user"}
AGENT_TOKEN = "agent-secret"

# Timings shrunk so a test waits milliseconds where production waits seconds.
FAST = {
    "heartbeat_interval": 30.0,
    "backoff_initial": 0.05,
    "backoff_max": 0.4,
    "backoff_jitter": 0.2,
    "stable_after": 0.5,
    "auth_retry": 0.5,
    "auth_timeout": 2.0,
    "connect_timeout": 2.0,
    "close_timeout": 0.5,
}


@pytest.fixture
def cloud_hub(hub_factory, fake_cloud):
    """``await cloud_hub(**cloud_link_overrides)`` starts a hub linked to ``fake_cloud``."""
    from hub.testing import static_auth
    from tests.cloud_link import fake_devices

    async def make(*, auth: dict[str, Any] | None = None, **overrides: Any) -> Any:
        """``auth`` given: run the real auth integration with that config instead of
        the static test tokens."""
        link_config = {"url": fake_cloud.url, "station_token": GOOD_TOKEN, **FAST, **overrides}
        link_config = {key: value for key, value in link_config.items() if value is not None}
        config: dict[str, Any] = {
            "hub": {"name": "Test Station"},
            "cloud_link": link_config,
            "fake_devices": {},
        }
        integrations: dict[str, Any] = {"fake_devices": fake_devices}
        if auth is not None:
            config["auth"] = auth
        else:
            config["static_auth"] = {"users": USER_TOKENS, "agent_token": AGENT_TOKEN}
            integrations["static_auth"] = static_auth
        return await hub_factory(config, integrations=integrations)

    return make
