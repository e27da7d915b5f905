"""A cloud double: a real aiohttp WebSocket server on 127.0.0.1 that plays the cloud's
``/ws/station`` endpoint, for testing that the cloud can call your RPC methods end to end.

The station side is the real ``cloud_link`` integration (its socket, auth, session and
JSON-RPC peer) talking TCP to this server; nothing is mocked. With the ``fake_cloud``
fixture (``hub.testing.pytest_plugin``)::

    hub = await hub_factory({"cloud_link": fake_cloud.link_config(), "garage_door": {...}})
    cloud = await fake_cloud.next_connection()
    reply = await cloud.call("garage.open", {"seconds": 3})
    assert reply["result"] == {"ok": True}  # or reply["error"] == {"code": ..., ...}

The server accepts the tokens in ``accepted_tokens`` (``STATION_TOKEN`` by default); its
knobs (``answer_pings``, ``refuse_upgrade``, ...) are plain attributes a test may flip.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

#: The token the double accepts unless told otherwise.
STATION_TOKEN = "station-token-good"
#: How long the double's waits last by default (seconds).
WAIT = 5.0
#: cloud_link timings shrunk so a test waits milliseconds where production waits seconds.
FAST_LINK_TIMINGS: dict[str, float] = {
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


class CloudConnection:
    """One station connected to the double; what it sends is queued in ``inbox`` as it
    arrives, so a test reads frames in order and never misses one."""

    def __init__(self, ws: web.WebSocketResponse, token: Any) -> None:
        self.ws = ws
        self.token = token
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.stashed: list[Any] = []
        self.pings_seen = 0
        self.closed = asyncio.Event()
        self._ids = itertools.count(1000)

    async def next_text(self, within: float = WAIT) -> str:
        """The next text frame the station sent; ``TimeoutError`` after ``within`` s."""
        return await asyncio.wait_for(self.inbox.get(), within)

    async def next_json(self, within: float = WAIT) -> Any:
        """The next frame, parsed (an object, or a list for a batch)."""
        return orjson.loads(await self.next_text(within))

    async def send(self, message: Any) -> None:
        """Send a frame as the cloud would: a string as is, anything else as JSON."""
        text = message if isinstance(message, str) else orjson.dumps(message).decode()
        await self.ws.send_str(text)

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        """Call ``method`` on the station; returns the whole response (``result`` or
        ``error`` in it), so a test can check either. Frames that arrive meanwhile
        (notifications) are stashed, in order, for ``notification``."""
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await self.response_to(request_id)

    async def response_to(self, request_id: Any) -> dict[str, Any]:
        """The response to a request sent with ``send``, stashing other frames."""
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

    #: Tokens answered ``auth_ok``; any other gets ``auth_failed``.

    accepted_tokens: set[str] = field(default_factory=lambda: {STATION_TOKEN})
    answer_pings: bool = True
    # A cloud behind a load balancer whose backend is down: TCP works, the upgrade fails.
    refuse_upgrade: bool = False
    close_after_auth_failure: bool = True
    port: int = 0
    #: The loop time of every connection attempt, to check the station's backoff.
    attempts: list[float] = field(default_factory=list)
    connections: asyncio.Queue[CloudConnection] = field(default_factory=asyncio.Queue)
    _runner: web.AppRunner | None = None
    _open: set[CloudConnection] = field(default_factory=set)
    _attempted: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        """The ``cloud_link: url`` to give a hub (plain ws:// is allowed to loopback)."""
        return f"ws://127.0.0.1:{self.port}/ws/station"

    def link_config(self, **overrides: Any) -> dict[str, Any]:
        """A ``cloud_link:`` configuration that connects to this double at once, with
        timings shrunk to milliseconds; ``overrides`` replace or add keys."""
        return {"url": self.url, "station_token": STATION_TOKEN, **FAST_LINK_TIMINGS, **overrides}

    async def start(self) -> None:
        """Listen on a free loopback port (or ``port`` when set, to come back after stop)."""
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
        """The next station that connected and sent its token (accepted or not)."""
        return await asyncio.wait_for(self.connections.get(), within)

    async def wait_attempts(self, count: int, within: float = WAIT) -> None:
        """Return once ``count`` connection attempts were made (refused ones included)."""
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
