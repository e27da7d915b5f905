"""Fixtures for BLE provisioning tests: a virtual radio, simulated ESP32s, a real hub.

The hub reaches the radio the way it would reach a USB dongle: ``hci:`` in its YAML,
here a bumble virtual controller served on a loopback TCP port by the test.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from hub.core import Hub
from hub.testing import static_auth
from plugins.ble_provisioning.testing import fixtures as ble_fixtures
from plugins.ble_provisioning.testing.radio import HciEndpoint

# The test kit's own fixtures, as a third party would reuse them.
virtual_air = ble_fixtures.virtual_air
ble_central = ble_fixtures.ble_central
ble_transport = ble_fixtures.ble_transport
hci_endpoint = ble_fixtures.hci_endpoint

# Provisioning is an owner/admin act, so the token most tests use is an owner's;
# MEMBER_TOKEN is a plain user, who may watch the scan but not provision.
USER_TOKEN = "user-token"
MEMBER_TOKEN = "member-token"
AGENT_TOKEN = "agent-secret"
BROKER_URL = "mqtt://192.168.50.10:1883"
# An upper bound, not a pause: generous, because the bridge is a fresh Python process
# and CI runs the suite on several interpreters at once on a two-core machine.
WAIT = 20.0


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hub_config(spec: str, **ble: Any) -> dict[str, Any]:
    return {
        "hub": {"station_id": "station-7"},
        "static_auth": {
            "users": {USER_TOKEN: "owner", MEMBER_TOKEN: "user"},
            "agent_token": AGENT_TOKEN,
        },
        "ble_provisioning": {
            "hci": spec,
            "broker_url": BROKER_URL,
            "connect_timeout": 2,
            "answer_timeout": 3,
            **ble,
        },
    }


@pytest_asyncio.fixture
async def start_hub(
    hub_factory: Callable[..., Awaitable[Hub]],
) -> Callable[..., Awaitable[Hub]]:
    async def start(config: dict[str, Any], **options: Any) -> Hub:
        return await hub_factory(config, integrations={"static_auth": static_auth}, **options)

    return start


@pytest_asyncio.fixture
async def ble_hub(start_hub: Callable[..., Awaitable[Hub]], hci_endpoint: HciEndpoint) -> Hub:
    return await start_hub(hub_config(hci_endpoint.spec))


@pytest_asyncio.fixture
async def api(ble_hub: Hub) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=ble_hub.http_url, headers={"Authorization": f"Bearer {USER_TOKEN}"}
    ) as session:
        yield session


class ScanSocket:
    """A provisioning WebSocket client that remembers everything it was sent."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                async with self._arrived:
                    self.messages.append(message.json())
                    self._arrived.notify_all()

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        within: float = WAIT,
        *,
        since: int = 0,
    ) -> dict[str, Any]:
        """The first message from index ``since`` on (received or yet to come) matching
        ``predicate``."""
        async with asyncio.timeout(within), self._arrived:
            while True:
                for message in self.messages[since:]:
                    if predicate(message):
                        return message
                await self._arrived.wait()

    async def candidate(
        self, address: str, within: float = WAIT, *, since: int = 0
    ) -> dict[str, Any]:
        message = await self.wait_for(
            lambda m: m.get("type") == "candidate" and m["candidate"]["address"] == address,
            within,
            since=since,
        )
        return message["candidate"]

    def candidates(self) -> dict[str, dict[str, Any]]:
        return {
            m["candidate"]["address"]: m["candidate"]
            for m in self.messages
            if m.get("type") == "candidate"
        }

    async def close(self) -> None:
        await self.socket.close()
        self._reader.cancel()


async def connect_scan(session: aiohttp.ClientSession, token: str = USER_TOKEN) -> ScanSocket:
    """Open /api/provisioning/ws and go through its auth phase."""
    raw = await session.ws_connect("/api/provisioning/ws")
    assert (await raw.receive_json(timeout=WAIT))["type"] == "auth_required"
    await raw.send_json({"type": "auth", "access_token": token})
    answer = await raw.receive_json(timeout=WAIT)
    assert answer["type"] == "auth_ok", answer
    return ScanSocket(raw)


@pytest_asyncio.fixture
async def open_scan() -> AsyncIterator[Callable[..., Awaitable[ScanSocket]]]:
    """``await open_scan(hub)``: a scan client, closed at teardown."""
    sessions: list[aiohttp.ClientSession] = []
    sockets: list[ScanSocket] = []

    async def open_socket(hub: Hub, token: str = USER_TOKEN) -> ScanSocket:
        session = aiohttp.ClientSession(base_url=hub.http_url)
        sessions.append(session)
        socket = await connect_scan(session, token)
        sockets.append(socket)
        return socket

    yield open_socket
    for socket in sockets:
        await socket.close()
    for session in sessions:
        await session.close()


@pytest.fixture
def scan_state_of(hci_endpoint: HciEndpoint) -> Callable[[], bool]:
    """Whether the hub's (virtual) controller is scanning, read at the radio itself."""
    return lambda: bool(hci_endpoint.controller.le_scan_enable)
