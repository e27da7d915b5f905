"""The real ``home-assistant-js-websocket`` (npm, the library HA's own frontend uses)
against a real hub, over Node with the ``ws`` package (tests/websocket_clients/).

The library is driven by ha_js_client.mjs, which reports what it sees as JSON lines:
``createConnection`` with an API token, ``subscribeEntities`` seeing the lamp and its
live change published over MQTT, ``subscribeEvents`` getting HA-shaped events, and
``callService`` ending as an MQTT command to the lamp. scripts/test installs Node and
runs ``npm ci`` here.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.http.websocket.messages import HA_VERSION
from tests.websocket_clients.conftest import LAMP, LAMP_ENTITY, Station

HERE = Path(__file__).parent
NODE = shutil.which("node")
WAIT = 10.0

pytestmark = pytest.mark.skipif(
    NODE is None, reason="node is not installed (scripts/test installs nodejs and npm)"
)


class NodeClient:
    """The Node process: requests in on stdin, what the library reports out on stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.unread: list[dict[str, Any]] = []

    async def next(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = WAIT
    ) -> dict[str, Any]:
        """The first report not taken yet that matches ``predicate`` (reports skipped on
        the way stay for a later call); fails on a fatal error, an exit or a timeout."""
        for index, report in enumerate(self.unread):
            if predicate(report):
                return self.unread.pop(index)
        try:
            return await asyncio.wait_for(self._read_until(predicate), within)
        except TimeoutError:
            pytest.fail(f"no such report within {within:g} s; the last ones: {self.unread[-3:]}")

    async def _read_until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                stderr = await self.process.stderr.read() if self.process.stderr else b""
                pytest.fail(f"the Node client exited: {stderr.decode()[-2000:]}")
            report = json.loads(line)
            assert report["kind"] != "fatal", report
            if predicate(report):
                return report
            self.unread.append(report)

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.next(lambda report: report["kind"] in ("reply", "failed"))


@pytest.fixture
async def node_client(station: Station) -> AsyncIterator[NodeClient]:
    if not (HERE / "node_modules" / "home-assistant-js-websocket").is_dir():
        pytest.fail("tests/websocket_clients/node_modules is missing: run scripts/test")
    _, secret = await station.cast.sessions.create_api_token(station.cast.member.id, "a dashboard")
    assert secret.startswith("shub_")
    assert NODE is not None  # the module is skipped without node
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(HERE / "ha_js_client.mjs"),
        cwd=HERE,
        env={"HUB_URL": station.hub.http_url, "HUB_TOKEN": secret, "PATH": "/usr/bin:/bin"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    client = NodeClient(process)
    try:
        yield client
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def lamp_is(state: str, **attributes: Any) -> Callable[[dict[str, Any]], bool]:
    def matches(report: dict[str, Any]) -> bool:
        if report["kind"] != "entities" or LAMP_ENTITY not in report["entities"]:
            return False
        entity = report["entities"][LAMP_ENTITY]
        return entity["state"] == state and all(
            entity["attributes"].get(key) == value for key, value in attributes.items()
        )

    return matches


async def test_the_js_library_connects_follows_entities_and_events_and_calls_services(
    station: Station, node_client: NodeClient
):
    connected = await node_client.next(lambda report: report["kind"] == "connected")
    assert connected["haVersion"] == HA_VERSION
    await node_client.next(lambda report: report["kind"] == "subscribed")

    # subscribeEntities: the lamp as it is, then its live change from the broker.
    first = await node_client.next(lamp_is("off", brightness=10))
    lamp = first["entities"][LAMP_ENTITY]
    assert lamp["attributes"]["friendly_name"] == LAMP
    assert lamp["attributes"]["external_id"] == LAMP
    assert datetime.fromisoformat(lamp["last_changed"].replace("Z", "+00:00"))
    await station.report({"on": True, "brightness": 55})
    changed = (await node_client.next(lamp_is("on", brightness=55)))["entities"][LAMP_ENTITY]
    assert changed["last_changed"] > lamp["last_changed"]
    assert changed["context"]["id"] != lamp["context"]["id"]

    # subscribeEvents: the hub's event, in HA's envelope.
    event = (
        await node_client.next(
            lambda report: (
                report["kind"] == "event"
                and report["event"]["event_type"] == "device_state_changed"
                and report["event"]["data"]["state"] == {"on": True, "brightness": 55}
            )
        )
    )["event"]
    assert event["origin"] == "LOCAL"
    assert datetime.fromisoformat(event["time_fired"])
    assert set(event["context"]) == {"id", "parent_id", "user_id"}
    assert event["data"]["externalId"] == LAMP

    # callService: a device command, published to the lamp over MQTT.
    reply = await node_client.request(
        "callService",
        domain="station_hub",
        service="send_command",
        data={"command": "toggle", "params": {"fade": 2}},
        target={"entity_id": LAMP_ENTITY},
        returnResponse=True,
    )
    assert reply["kind"] == "reply", reply
    command_id = reply["result"]["response"][LAMP_ENTITY]["commandId"]
    assert reply["result"]["context"]["user_id"] == station.cast.member.id
    command = await station.next_command()
    assert command == {"id": command_id, "command": "toggle", "params": {"fade": 2}}
    sent = await node_client.next(
        lambda report: (
            report["kind"] == "event"
            and report["event"]["event_type"] == "command_status_changed"
            and report["event"]["data"]["commandId"] == command_id
        )
    )
    assert sent["event"]["data"]["status"] == "sent"

    # An unknown service is the library's rejected promise with HA's error.
    reply = await node_client.request("callService", domain="light", service="turn_on")
    assert reply["kind"] == "failed" and reply["error"]["code"] == "not_found"

    states = (await node_client.request("getStates"))["result"]
    assert [item["entity_id"] for item in states] == [LAMP_ENTITY]
    services = (await node_client.request("getServices"))["result"]
    assert "send_command" in services["station_hub"]
    config = (await node_client.request("getConfig"))["result"]
    assert config["location_name"] == "Station A"
    assert (await node_client.request("ping"))["result"] == "pong"


async def test_the_js_library_sees_a_device_go_unavailable(
    station: Station, node_client: NodeClient
):
    await node_client.next(lamp_is("off"))
    device = station.hub.devices.by_external_id(LAMP)
    assert device is not None
    station.hub.devices.set_offline(device)
    await node_client.next(lamp_is("unavailable"))
