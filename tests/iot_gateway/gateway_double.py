"""A real aiohttp server on 127.0.0.1 playing the upstream IoT gateway, and test helpers.

The double implements the token contract of docs/iot-gateway.md with rotating single-use
refresh tokens, checks the bearer token on every other path, records what it received,
and lets a test choose answers, stall a path, or hold refreshes until released.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

import plugins.iot_gateway as iot_gateway

APP_ID = "station-app"
APP_SECRET = "app-secret-not-for-logs"
USERS = {"owner-token": "owner", "admin-token": "admin", "user-token": "user"}
MIGRATIONS = Path(iot_gateway.__file__).parent / "migrations"


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: CIMultiDictProxy[str]
    body: bytes
    token: str | None


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] | list[tuple[str, str]] = field(default_factory=dict)
    # Send without Content-Length, so a size limit cannot rely on the declared length.
    chunked: bool = False


class GatewayDouble:
    def __init__(self) -> None:
        self.expires_in: float = 3600
        # Where the double answers the token calls; a test may move them with the hub's map.
        self.token_path = "/auth/token"
        self.refresh_path = "/auth/refresh"
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.logins = 0
        self.refreshes = 0
        self.refresh_requests = 0
        self.received: list[Received] = []
        self.answers: dict[str, Answer] = {}
        self.stalled: dict[str, asyncio.Event] = {}
        self.hold_refresh: asyncio.Event | None = None
        # When set, /auth/refresh answers this status (a broken gateway, not a bad token).
        self.refresh_failure_status: int | None = None
        # When true, every access token is refused, even one issued a moment ago.
        self.reject_all_tokens = False
        self.refresh_arrived = asyncio.Event()
        self.issued: list[dict[str, Any]] = []
        # Called with the token of each authenticated call (e.g. to check it was saved).
        self.on_authenticated: Callable[[str], None] | None = None
        self._serial = itertools.count(1)
        self.server: TestServer | None = None

    # ---- tokens ----------------------------------------------------------------------

    def issue(self) -> dict[str, Any]:
        serial = next(self._serial)
        pair: dict[str, Any] = {
            "accessToken": f"AT{serial}-{uuid.uuid4().hex}",
            "refreshToken": f"RT{serial}-{uuid.uuid4().hex}",
            "expiresIn": self.expires_in,
        }
        self.access_tokens.add(pair["accessToken"])
        self.refresh_tokens.add(pair["refreshToken"])
        self.issued.append(pair)
        return pair

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    def all_secrets(self) -> list[str]:
        found = [APP_SECRET]
        for pair in self.issued:
            found += [pair["accessToken"], pair["refreshToken"]]
        return found

    async def _login(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body != {"appId": APP_ID, "appSecret": APP_SECRET}:
            return web.json_response({"message": "bad app credentials"}, status=401)
        self.logins += 1
        return web.json_response(self.issue())

    async def _refresh(self, request: web.Request) -> web.Response:
        self.refresh_requests += 1
        self.refresh_arrived.set()
        if self.hold_refresh is not None:
            await self.hold_refresh.wait()
        if self.refresh_failure_status is not None:
            return web.json_response({"message": "broken"}, status=self.refresh_failure_status)
        body = await request.json()
        token = body.get("refreshToken")
        if body.get("appId") != APP_ID or token not in self.refresh_tokens:
            return web.json_response({"message": "invalid refresh token"}, status=401)
        # Refresh tokens are single use, as on many real gateways.
        self.refresh_tokens.discard(token)
        self.refreshes += 1
        return web.json_response(self.issue())

    # ---- everything else ---------------------------------------------------------------

    async def _any(self, request: web.Request) -> web.StreamResponse:
        stall = self.stalled.get(request.path)
        if stall is not None:
            await stall.wait()
        if request.method == "POST" and request.path == self.token_path:
            return await self._login(request)
        if request.method == "POST" and request.path == self.refresh_path:
            return await self._refresh(request)
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        self.received.append(
            Received(
                request.method,
                request.path,
                request.query_string,
                request.headers,
                await request.read(),
                token,
            )
        )
        if token not in self.access_tokens or self.reject_all_tokens:
            return web.json_response(
                {"message": "token expired"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if self.on_authenticated is not None:
            self.on_authenticated(token)
        answer = self.answers.get(request.path)
        if answer is None:
            return web.json_response({"path": request.path, "ok": True})
        items = answer.headers.items() if isinstance(answer.headers, dict) else answer.headers
        if answer.chunked:
            stream = web.StreamResponse(status=answer.status)
            for name, value in items:
                stream.headers.add(name, value)
            stream.enable_chunked_encoding()
            await stream.prepare(request)
            for start in range(0, len(answer.body), 512):
                await stream.write(answer.body[start : start + 512])
            await stream.write_eof()
            return stream
        response = web.Response(status=answer.status, body=answer.body)
        response.headers.popall("Content-Type", None)
        for name, value in items:
            response.headers.add(name, value)
        return response

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        return app

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def paths_received(self) -> list[str]:
        return [item.path for item in self.received]

    def release_all(self) -> None:
        for event in self.stalled.values():
            event.set()
        if self.hold_refresh is not None:
            self.hold_refresh.set()


def read_token_row(path: str | Path) -> tuple[str, str | None, int, int] | None:
    """The stored pair, read through a separate plain sqlite3 connection."""
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT access_token, refresh_token, expires_at, issued_at FROM iot_tokens"
        ).fetchone()


async def wait_until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Wait for a condition that no event announces; fails the test after ``limit`` s."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - a counter, not an event, is what changes
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), limit)


def auth(role: str) -> dict[str, str]:
    token = {value: key for key, value in USERS.items()}[role]
    return {"Authorization": f"Bearer {token}"}
