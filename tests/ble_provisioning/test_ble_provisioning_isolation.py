"""``isolation: true``: the hub's provisioning runs its BLE work in the bridge subprocess."""

from __future__ import annotations

import asyncio

import aiohttp

from plugins.ble_provisioning import runtime_for
from plugins.ble_provisioning.bridge.client import BridgeTransport
from plugins.ble_provisioning.testing import (
    Behaviour,
    SimulatedImprovDevice,
    SimulatedProvisioningDevice,
)
from tests.ble_provisioning.conftest import USER_TOKEN, WAIT, hub_config

NETWORKS = {"Farm WiFi": "correct horse"}


async def post_add(hub, body):
    async with (
        aiohttp.ClientSession(
            base_url=hub.http_url, headers={"Authorization": f"Bearer {USER_TOKEN}"}
        ) as api,
        api.post("/api/provisioning/add", json=body) as response,
    ):
        return response.status, await response.json()


async def test_custom_and_improv_devices_provision_through_the_bridge(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, isolation=True))
    runtime = runtime_for(hub)
    assert runtime is not None
    await asyncio.wait_for(runtime.probed.wait(), WAIT)
    assert hub.integration_state("ble_provisioning") == "running"
    custom = await SimulatedProvisioningDevice.start(
        virtual_air, "C4:DD:57:70:00:01", networks=NETWORKS
    )
    improv = await SimulatedImprovDevice.start(virtual_air, "C4:DD:57:70:00:02", networks=NETWORKS)
    socket = await open_scan(hub)
    candidate = await socket.candidate("C4:DD:57:70:00:01")
    assert candidate["rssi"] == -50 and candidate["protocol"] == "custom"
    await socket.candidate("C4:DD:57:70:00:02")

    status, body = await post_add(
        hub, {"address": "C4:DD:57:70:00:01", "ssid": "Farm WiFi", "password": "correct horse"}
    )
    assert status == 201, body
    assert custom.payloads[0]["stationId"] == "station-7"
    assert custom.prepared_parts > 1

    status, body = await post_add(
        hub, {"address": "C4:DD:57:70:00:02", "ssid": "Farm WiFi", "password": "correct horse"}
    )
    assert status == 200, body
    assert body["redirectUrl"] == "http://esp-improv.local"
    assert improv.provisioned_with == ("Farm WiFi", "correct horse")


async def test_failures_cross_the_bridge_with_their_codes(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, isolation=True))
    await SimulatedProvisioningDevice.start(
        virtual_air, "C4:DD:57:70:00:03", networks=NETWORKS, behaviour=Behaviour.VANISH_MID_WRITE
    )
    await SimulatedProvisioningDevice.start(
        virtual_air, "C4:DD:57:70:00:04", networks=NETWORKS, behaviour=Behaviour.ATT_ERROR
    )
    await SimulatedProvisioningDevice.start(virtual_air, "C4:DD:57:70:00:05", networks=NETWORKS)
    socket = await open_scan(hub)
    for address in ("C4:DD:57:70:00:03", "C4:DD:57:70:00:04", "C4:DD:57:70:00:05"):
        await socket.candidate(address)
    credentials = {"ssid": "Farm WiFi", "password": "correct horse"}

    status, body = await post_add(hub, {"address": "C4:DD:57:70:00:03", **credentials})
    assert (status, body["error"]["code"]) == (502, "device_disconnected")
    status, body = await post_add(hub, {"address": "C4:DD:57:70:00:04", **credentials})
    assert (status, body["error"]["code"]) == (502, "att_error")
    assert body["error"]["details"] == {"attErrorCode": 0x80}
    status, body = await post_add(
        hub, {"address": "C4:DD:57:70:00:05", "ssid": "Farm WiFi", "password": "wrong horse"}
    )
    assert (status, body["error"]["details"]["reason"]) == (422, "wrong_password")


async def test_a_crashed_bridge_is_restarted_and_scanning_resumes(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, isolation=True, recheck_interval=0.05))
    runtime = runtime_for(hub)
    assert runtime is not None
    await SimulatedProvisioningDevice.start(virtual_air, "C4:DD:57:70:00:06", networks=NETWORKS)
    socket = await open_scan(hub)
    await socket.candidate("C4:DD:57:70:00:06")

    before = len(socket.messages)
    assert isinstance(runtime._transport, BridgeTransport)
    assert runtime._transport._process is not None
    runtime._transport._process.kill()  # the Bluetooth stack takes the bridge down
    lost = await socket.wait_for(lambda m: m.get("state") == "unavailable", since=before)
    assert "bridge exited" in lost["reason"]

    # A new bridge is started, the scan resumes, and the device is found again.
    await socket.wait_for(lambda m: m == {"type": "scan", "state": "started"}, since=before)
    assert hub.integration_state("ble_provisioning") == "running"
    await socket.candidate("C4:DD:57:70:00:06", since=before)
