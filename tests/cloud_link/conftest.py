"""Station-side helpers around the cloud double (``hub.testing.cloud``; its ``fake_cloud``
fixture comes from the hub's pytest plugin, as it does for any integration's tests).

Nothing here is mocked: the station side runs the plugin's own socket, auth, session and
peer code against the double over TCP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from hub.core import Hub
from hub.testing.cloud import FAST_LINK_TIMINGS, WAIT, CloudConnection, FakeCloud
from hub.testing.cloud import STATION_TOKEN as GOOD_TOKEN
from plugins.cloud_link import runtime_for
from plugins.cloud_link.jsonrpc import JsonRpcPeer, PeerLimits
from plugins.cloud_link.runtime import CloudLinkRuntime
from plugins.cloud_link.session import CloudSession, authenticate
from plugins.cloud_link.socket import open_socket

__all__ = ["FAST", "GOOD_TOKEN", "WAIT"]


def link_runtime(hub: Hub) -> CloudLinkRuntime:
    """``runtime_for(hub)`` of a hub whose cloud link a test has set up: never None there."""
    runtime = runtime_for(hub)
    assert runtime is not None, "cloud_link is not set up on this hub"
    return runtime


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

FAST = FAST_LINK_TIMINGS


@pytest.fixture
def cloud_hub(hub_factory, fake_cloud):
    """``await cloud_hub(**cloud_link_overrides)`` starts a hub linked to ``fake_cloud``."""
    from hub.testing import static_auth
    from tests.cloud_link import fake_devices

    async def make(*, auth: dict[str, Any] | None = None, **overrides: Any) -> Any:
        """``auth`` given: run the real auth integration with that config instead of
        the static test tokens."""
        link_config = fake_cloud.link_config(**overrides)
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
