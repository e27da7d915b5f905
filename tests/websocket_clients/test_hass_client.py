"""The real ``hass-client`` (PyPI, a maintained Python client for HA's WebSocket API)
against a real hub: it connects with a JWT, reads ``get_states``, follows events and
entities while the lamp publishes over a real Mosquitto, and calls a service that ends
as an MQTT command to the lamp.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hass_client import HomeAssistantClient
from hass_client.exceptions import AuthenticationFailed, FailedCommand

from hub.http.websocket.messages import HA_VERSION
from tests.websocket_clients.conftest import LAMP, LAMP_ENTITY, Station

WAIT = 10.0


class Inbox:
    """Whatever a hass-client callback receives, awaitable by condition."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._arrived = asyncio.Event()

    def __call__(self, item: Any) -> None:
        self.items.append(item)
        self._arrived.set()

    async def first(self, predicate: Any) -> Any:
        async with asyncio.timeout(WAIT):
            seen = 0
            while True:
                for item in self.items[seen:]:
                    if predicate(item):
                        return item
                seen = len(self.items)
                self._arrived.clear()
                await self._arrived.wait()


@contextlib.asynccontextmanager
async def hass_client(station: Station, token: str) -> AsyncIterator[HomeAssistantClient]:
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(f"{station.hub.http_url}/api/websocket", token, session)
        await client.connect()
        listening = asyncio.ensure_future(client.start_listening())
        try:
            yield client
        finally:
            await client.disconnect()
            await asyncio.wait({listening}, timeout=WAIT)


async def test_hass_client_reads_states_follows_changes_and_calls_services(station: Station):
    token = station.cast.token(station.cast.member)
    async with hass_client(station, token) as client:
        assert client.version == HA_VERSION

        states = await client.get_states()
        assert [state["entity_id"] for state in states] == [LAMP_ENTITY]
        assert states[0]["state"] == "off"
        assert states[0]["attributes"]["brightness"] == 10

        events, changes, entities = Inbox(), Inbox(), Inbox()
        await client.subscribe_events(events, "device_state_changed")
        await client.subscribe_events(changes, "state_changed")
        await client.subscribe_entities(entities, [LAMP_ENTITY])
        initial = await entities.first(lambda event: "a" in event)
        assert initial["a"][LAMP_ENTITY]["s"] == "off"

        await station.report({"on": True, "brightness": 80})

        event = await events.first(lambda event: event["data"]["state"]["brightness"] == 80)
        assert event["event_type"] == "device_state_changed"
        assert event["data"]["externalId"] == LAMP
        change = await changes.first(lambda event: event["data"]["entity_id"] == LAMP_ENTITY)
        assert change["data"]["old_state"]["state"] == "off"
        assert change["data"]["new_state"]["state"] == "on"
        diff = await entities.first(lambda event: "c" in event)
        assert diff["c"][LAMP_ENTITY]["+"]["s"] == "on"
        assert diff["c"][LAMP_ENTITY]["+"]["a"] == {"on": True, "brightness": 80}

        result = await client.call_service(
            "station_hub",
            "send_command",
            {"command": "blink", "params": {"times": 3}},
            {"entity_id": LAMP_ENTITY},
        )
        assert result["context"]["user_id"] == station.cast.member.id
        command = await station.next_command()
        assert command["command"] == "blink" and command["params"] == {"times": 3}

        with pytest.raises(FailedCommand, match="not found"):
            await client.call_service("light", "turn_on")
        config = await client.get_config()
        assert config["version"] == HA_VERSION
        services = await client.get_services()
        assert "send_command" in services["station_hub"]


async def test_hass_client_is_refused_with_a_bad_token(station: Station):
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(
            f"{station.hub.http_url}/api/websocket", "not-a-token", session
        )
        with pytest.raises(AuthenticationFailed):
            await client.connect()
