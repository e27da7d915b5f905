"""The broker's persistent session holds exactly the registered topic filters.

A filter subscribed in the hub's session stays there, at the broker, until it is
unsubscribed or the session expires (7 days by default). These tests leave one behind the
two ways a live unsubscribe cannot catch (withdrawn while the hub is disconnected; gone
from the configuration across a restart) and check that the next session removes it.

Each check publishes on the stale filter, then a handshake from the same client: the
broker delivers one publisher's messages in order within a session, so once the
handshake's ack is back, a message still routed by the stale filter would have reached the
hub before it and been dropped as ``no_handler``.
"""

from __future__ import annotations

import asyncio
import types
from pathlib import Path
from typing import Any

import pytest

import plugins.mqtt_devices
from hub.db.database import Database
from hub.hookspecs import hookimpl
from hub.registrar import MqttMessage, Registrar
from hub.testing import static_auth
from hub.testing.mosquitto import MosquittoBroker
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.const import DOMAIN
from plugins.mqtt_devices.runtime import MqttDevicesRuntime
from plugins.mqtt_devices.session_filters import SessionFilters
from tests.mqtt_devices.conftest import hub_config
from tests.mqtt_devices.helpers import WAIT, device_client
from tests.mqtt_devices.hub_process import until

STALE = "stale/+/news"
MIGRATIONS = Path(plugins.mqtt_devices.__file__).parent / "migrations"
PROTOCOLS = [pytest.param("3.1.1", id="mqtt311"), pytest.param("5", id="mqtt5")]


def topics_integration(arrived: asyncio.Queue[MqttMessage]) -> types.ModuleType:
    """A third-party integration that registers one topic filter, ``STALE``."""
    module = types.ModuleType("news_topics")

    @hookimpl
    def hub_register(hub: Any, registrar: Registrar, config: dict[str, Any]) -> None:
        registrar.mqtt_topic(STALE, arrived.put_nowait)

    module.hub_register = hub_register  # type: ignore[attr-defined]
    return module


async def delivered(arrived: asyncio.Queue[MqttMessage], broker: str) -> None:
    """The filter is in the hub's session: a message on it reaches the handler."""
    async with device_client(broker) as device:
        await device.publish("stale/x/news", b"subscribed")
        message = await asyncio.wait_for(arrived.get(), WAIT)
    assert message.payload == b"subscribed"


async def assert_not_delivered(runtime: MqttDevicesRuntime, broker: str, device_id: str) -> None:
    """Publish on the stale filter, then a handshake; the first must never reach the hub."""
    async with device_client(broker) as device:
        await device.publish("stale/x/news", b"nobody listens")
        await device.handshake(device_id)
    assert "no_handler" not in runtime.drops.counts, runtime.drops.snapshot()


async def remembered(runtime: MqttDevicesRuntime) -> set[str]:
    assert runtime.session_filters is not None
    return await runtime.session_filters.load()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_topic_withdrawn_while_disconnected_is_unsubscribed_by_the_next_session(
    start_hub, mosquitto: MosquittoBroker, protocol: str
) -> None:
    hub = await start_hub(mosquitto.url, protocol=protocol)
    runtime = runtime_for(hub)
    assert runtime is not None and runtime.connection is not None
    arrived: asyncio.Queue[MqttMessage] = asyncio.Queue()
    Registrar(hub.registrations, "latecomer").mqtt_topic(STALE, arrived.put_nowait)
    await runtime.subscriptions_settled()
    await delivered(arrived, mosquitto.url)
    assert STALE in await remembered(runtime)

    # The broker goes away (saving the hub's session), and the topic is withdrawn while
    # the hub cannot tell the broker.
    mosquitto.stop()
    connection = runtime.connection
    await until(lambda: not connection.connected.is_set(), within=WAIT)
    hub.registrations.withdraw("latecomer")
    # Same port, same persistence: the hub's session comes back with the filter in it.
    mosquitto.start()
    await asyncio.wait_for(runtime.connection.wait_for_session(2), WAIT)

    await assert_not_delivered(runtime, mosquitto.url, "after-reconnect")
    assert arrived.empty()
    assert STALE not in await remembered(runtime)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_topic_gone_from_the_configuration_is_unsubscribed_after_a_restart(
    hub_factory, start_hub, mosquitto: MosquittoBroker, tmp_path: Path, protocol: str
) -> None:
    config_dir = tmp_path / "hub"
    arrived: asyncio.Queue[MqttMessage] = asyncio.Queue()
    config = hub_config(mosquitto.url, protocol=protocol)
    config["news_topics"] = {}
    first = await hub_factory(
        config,
        config_dir=config_dir,
        integrations={"static_auth": static_auth, "news_topics": topics_integration(arrived)},
    )
    first_runtime = runtime_for(first)
    assert first_runtime is not None and first_runtime.connection is not None
    await first_runtime.connection.wait_for_session(1)
    await delivered(arrived, mosquitto.url)
    await first.stop()

    # The operator removed the integration from configuration.yaml; same database, same
    # broker, same client id: the resumed session still holds the filter.
    second = await start_hub(mosquitto.url, config_dir=config_dir, protocol=protocol)
    runtime = runtime_for(second)
    assert runtime is not None
    await assert_not_delivered(runtime, mosquitto.url, "after-restart")
    assert arrived.empty()
    registered = {pattern for pattern, _qos in runtime.subscriptions()}
    assert await remembered(runtime) == registered


def failing_topics_integration(arrived: asyncio.Queue[MqttMessage]) -> types.ModuleType:
    """Registers ``STALE``, is set up after mqtt_devices, and fails: its topic is withdrawn
    while mqtt_devices' first session is still subscribing."""
    module = topics_integration(arrived)

    @hookimpl
    def hub_dependencies() -> list[str]:
        return [DOMAIN]

    @hookimpl
    def hub_setup(hub: Any, config: dict[str, Any]) -> None:
        raise RuntimeError("this integration cannot start")

    module.hub_dependencies = hub_dependencies  # type: ignore[attr-defined]
    module.hub_setup = hub_setup  # type: ignore[attr-defined]
    return module


async def test_a_topic_withdrawn_while_the_session_is_set_up_is_not_left_subscribed(
    hub_factory, mosquitto: MosquittoBroker
) -> None:
    arrived: asyncio.Queue[MqttMessage] = asyncio.Queue()
    config = hub_config(mosquitto.url)
    config["news_topics"] = {}
    hub = await hub_factory(
        config,
        integrations={
            "static_auth": static_auth,
            "news_topics": failing_topics_integration(arrived),
        },
    )
    assert hub.integration_state("news_topics") == "failed"
    runtime = runtime_for(hub)
    assert runtime is not None and runtime.connection is not None
    await runtime.connection.wait_for_session(1)
    await assert_not_delivered(runtime, mosquitto.url, "after-setup")
    assert arrived.empty()
    assert STALE not in await remembered(runtime)


async def check_the_record_per_session(url: str) -> None:
    """Another broker (or client id) is another session: its filters are not these."""
    database = Database(url)
    await database.start()
    try:
        await database.upgrade(MIGRATIONS, DOMAIN)
        engine = database.require_engine()
        one = SessionFilters(engine, "mqtt://127.0.0.1:1883", "hub-a")
        other_broker = SessionFilters(engine, "mqtt://127.0.0.1:1884", "hub-a")
        other_client = SessionFilters(engine, "mqtt://127.0.0.1:1883", "hub-b")
        await one.add(["a/#", "b/+"])
        await one.add(["a/#"])  # already remembered: no second row, no error
        await other_broker.add(["c/#", "b/+"])
        await one.remove(["b/+"])
        assert await one.load() == {"a/#"}
        assert await other_broker.load() == {"b/+", "c/#"}
        assert await other_client.load() == set()
    finally:
        await database.stop()


async def test_the_record_is_kept_per_broker_and_client_id(tmp_path: Path) -> None:
    await check_the_record_per_session(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")


@pytest.mark.postgres
async def test_the_record_is_kept_per_broker_and_client_id_on_postgresql(
    postgres_database: str,
) -> None:
    await check_the_record_per_session(postgres_database)
