"""A real hub linked to the fake cloud: every method the station serves, over the socket."""

from __future__ import annotations

import asyncio
import types
from typing import Any

from hub.hookspecs import hookimpl
from plugins.cloud_link.const import ERROR_COMMAND_FAILED, ERROR_DEVICE_NOT_FOUND
from plugins.cloud_link.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND
from tests.cloud_link import fake_devices
from tests.cloud_link.conftest import WAIT, link_runtime


async def _devices(hub):
    lamp = await hub.devices.handshake(
        "lamp-1", device_type="fake-lamp", transport=fake_devices.TRANSPORT
    )
    sensor = await hub.devices.handshake(
        "sensor-1", device_type="thermo", capabilities=["temp"], transport=fake_devices.TRANSPORT
    )
    return lamp, sensor


async def test_device_command_by_id_and_by_external_id(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    lamp, _sensor = await _devices(hub)
    transport = fake_devices.TRANSPORTS[hub]

    reply = await cloud.call(
        "device.command", {"deviceId": lamp.id, "command": "toggle", "params": {"on": True}}
    )
    assert reply["result"]["status"] == "ok"
    command = hub.devices.command(reply["result"]["commandId"])
    assert command is not None and command.source == "cloud"
    reply = await cloud.call("device.command", {"deviceId": "sensor-1", "command": "reboot"})
    assert reply["result"]["status"] == "ok"
    assert transport.sent == [
        ("lamp-1", "toggle", {"on": True}),
        ("sensor-1", "reboot", {}),
    ]


async def test_device_command_errors(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    await _devices(hub)
    fake_devices.TRANSPORTS[hub].failing.add("lamp-1")

    unknown = await cloud.call("device.command", {"deviceId": "nope", "command": "toggle"})
    assert unknown["error"]["code"] == ERROR_DEVICE_NOT_FOUND
    assert "nope" in unknown["error"]["data"]
    failed = await cloud.call("device.command", {"deviceId": "lamp-1", "command": "toggle"})
    assert failed["error"]["code"] == ERROR_COMMAND_FAILED
    assert "radio silence" in failed["error"]["data"]
    for params in ({"deviceId": "lamp-1"}, {"deviceId": "lamp-1", "command": 5}, ["lamp-1"]):
        invalid = await cloud.call("device.command", params)
        assert invalid["error"]["code"] == INVALID_PARAMS, params
    assert fake_devices.TRANSPORTS[hub].sent == []


async def test_devices_snapshot_lists_every_device(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    lamp, _sensor = await _devices(hub)
    hub.devices.report_state(lamp, {"on": True})

    reply = await cloud.call("devices.snapshot")
    devices = {device["externalId"]: device for device in reply["result"]["devices"]}
    assert set(devices) == {"lamp-1", "sensor-1"}
    assert devices["lamp-1"]["id"] == lamp.id
    assert devices["lamp-1"]["state"] == {"on": True}
    assert devices["lamp-1"]["online"] is True
    assert (await cloud.call("devices.snapshot", {"unexpected": 1}))["error"]["code"] == (
        INVALID_PARAMS
    )


async def test_device_types_list_includes_registered_and_learnt_types(
    cloud_hub, fake_cloud
) -> None:
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    await _devices(hub)
    reply = await cloud.call("device_types.list", [])
    types = {item["name"]: item for item in reply["result"]["deviceTypes"]}
    assert types["fake-lamp"]["commands"] == ["toggle"]
    assert types["thermo"]["capabilities"] == ["temp"]


async def test_set_active_channels_validates_and_reports(cloud_hub, fake_cloud, hub_client) -> None:
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    reply = await cloud.call("station.setActiveChannels", {"channels": ["presence", "state"]})
    assert reply["result"] == {"ok": True, "channels": ["presence", "state"]}
    for bad in ({"channels": ["weather"]}, {"channels": "state"}, {}, {"channels": ["state"] * 2}):
        answer = await cloud.call("station.setActiveChannels", bad)
        assert answer["error"]["code"] == INVALID_PARAMS, bad
    client = await hub_client(hub, token="user-token")
    async with client.get("/api/cloud/status") as response:
        assert (await response.json())["activeChannels"] == ["presence", "state"]


async def test_methods_registered_by_other_integrations_are_served(cloud_hub, fake_cloud) -> None:
    await cloud_hub()
    cloud = await fake_cloud.next_connection()
    assert (await cloud.call("fake.double", {"n": 21}))["result"] == {
        "doubled": 42,
        "source": "cloud",
    }
    # An integration answers with JSON-RPC errors through hub.rpc, not the peer's module.
    assert (await cloud.call("fake.double", {"n": "x"}))["error"] == {
        "code": -32602,
        "message": "Invalid params",
        "data": "n must be an integer",
    }
    assert (await cloud.call("fake.double", {"n": -1}))["error"] == {
        "code": 4001,
        "message": "Negative numbers are not doubled here",
        "data": {"n": -1},
    }
    assert (await cloud.call("fake.sync_echo", [1, "two"]))["result"] == [1, "two"]
    assert (await cloud.call("fake.missing"))["error"]["code"] == METHOD_NOT_FOUND


async def test_calls_run_concurrently_with_notifications(cloud_hub, fake_cloud) -> None:
    """A burst of state changes while the cloud calls: nothing is lost or mixed up."""
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    lamp, _sensor = await _devices(hub)
    for value in range(50):
        hub.devices.report_state(lamp, {"level": value})
    reply = await cloud.call("devices.snapshot")
    assert {d["externalId"] for d in reply["result"]["devices"]} == {"lamp-1", "sensor-1"}
    async with asyncio.timeout(WAIT):
        while True:
            state = await cloud.notification("device.state")
            if state["params"]["state"] == {"level": 49}:
                break


async def test_the_station_can_call_the_cloud_through_the_live_peer(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    link = link_runtime(hub).link
    await asyncio.wait_for(link.status.wait_for(lambda s: s.state == "connected"), WAIT)
    assert link.peer is not None  # a connected link has its peer
    call = asyncio.create_task(link.peer.call("cloud.time"))
    request = await cloud.next_json()
    assert request["method"] == "cloud.time"
    await cloud.send({"jsonrpc": "2.0", "result": "noon", "id": request["id"]})
    assert await asyncio.wait_for(call, WAIT) == "noon"


def _squatter() -> types.ModuleType:
    """An integration that takes one of the cloud link's own method names first (it sorts
    before cloud_link, so it registers first)."""
    module = types.ModuleType("beacon")

    def hub_register(registrar: Any) -> None:
        registrar.rpc_method("device.command", lambda params, context: "hijacked")

    module.hub_register = hookimpl(hub_register)  # type: ignore[attr-defined]
    return module


async def test_a_method_name_the_cloud_link_owns_is_refused_naming_both(hub_factory) -> None:
    hub = await hub_factory({"beacon": {}, "cloud_link": {}}, integrations={"beacon": _squatter()})
    assert hub.integration_state("beacon") == "running"
    assert hub.integration_state("cloud_link") == "failed"
    assert hub.integration_failure("cloud_link") == (
        "registration failed: cloud_link: RPC method device.command is already registered by beacon"
    )
    # Nothing of the link is left half-registered; the squatter keeps what it had first.
    assert {name: method.integration for name, method in hub.registrations.rpc_methods.items()} == {
        "device.command": "beacon"
    }
