"""pytest fixtures for integration authors (loaded through the ``pytest11`` entry point).

- ``mosquitto``: a real broker on a free loopback port, with persistence, restartable.
- ``hub_factory``: ``await hub_factory(config)`` writes ``configuration.yaml`` into a
  temporary config directory, starts a real Hub on a free loopback port, and stops it
  at teardown. ``integrations={"name": module}`` adds modules as if installed.
- ``hub_client``: ``await hub_client(hub, token=...)`` is an aiohttp session bound to the
  hub's URL, closed at teardown.
- ``postgres_database``: the URL of a freshly created, uniquely named PostgreSQL database,
  dropped at teardown; the test is skipped when no server is usable. Request it before
  ``hub_factory`` so the hub stops before its database is dropped.
- ``fake_cloud``: a cloud double (``hub.testing.cloud.FakeCloud``) listening on loopback;
  ``fake_cloud.link_config()`` is the ``cloud_link:`` YAML that connects a hub to it.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from hub.core import Hub
from hub.testing.cloud import FakeCloud
from hub.testing.mosquitto import MosquittoBroker, dynsec_missing
from hub.testing.postgres import PostgresUnavailable, throwaway_database

HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def dynsec_mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A real Mosquitto with the dynamic security plugin; its admin is the hub's account.
    Skips, saying why, where the plugin is not installed."""
    reason = dynsec_missing()
    if reason is not None:
        pytest.skip(f"no dynsec broker: {reason}")
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto-dynsec"), dynsec=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def write_config(config_dir: Path, config: dict[str, Any]) -> None:
    """Write ``config`` as configuration.yaml, defaulting HTTP to a free loopback port."""
    data = copy.deepcopy(config)
    core = data.setdefault("hub", {}) or {}
    data["hub"] = core
    http = core.setdefault("http", {})
    http.setdefault("host", "127.0.0.1")
    http.setdefault("port", 0)
    core.setdefault("station_id", "test-station")
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest_asyncio.fixture
async def hub_factory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HubFactory]:
    started: list[Hub] = []

    async def factory(
        config: dict[str, Any],
        *,
        config_dir: Path | None = None,
        integrations: dict[str, ModuleType] | None = None,
    ) -> Hub:
        directory = config_dir or tmp_path_factory.mktemp("hub-config")
        write_config(directory, config)
        hub = Hub(directory, extra_integrations=integrations)
        try:
            await hub.start()
        except BaseException:
            await hub.stop()
            raise
        started.append(hub)
        return hub

    yield factory
    for hub in reversed(started):
        await hub.stop()


@pytest_asyncio.fixture
async def hub_client() -> AsyncIterator[Callable[..., Awaitable[aiohttp.ClientSession]]]:
    sessions: list[aiohttp.ClientSession] = []

    async def factory(hub: Hub, *, token: str | None = None) -> aiohttp.ClientSession:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        session = aiohttp.ClientSession(base_url=hub.http_url, headers=headers)
        sessions.append(session)
        return session

    yield factory
    for session in sessions:
        await session.close()


@pytest_asyncio.fixture
async def postgres_database() -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(throwaway_database())
        except PostgresUnavailable as reason:
            pytest.skip(str(reason))
        yield url


@pytest_asyncio.fixture
async def fake_cloud() -> AsyncIterator[FakeCloud]:
    cloud = FakeCloud()
    await cloud.start()
    try:
        yield cloud
    finally:
        await cloud.stop()
