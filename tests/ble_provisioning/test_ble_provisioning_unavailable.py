"""No adapter, no D-Bus: the integration says why it cannot work, and the hub runs on."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from hub.testing import free_port
from plugins.ble_provisioning import runtime_for
from plugins.ble_provisioning.runtime import PROBE_TIMEOUT
from plugins.ble_provisioning.testing import SimulatedProvisioningDevice
from tests.ble_provisioning.conftest import USER_TOKEN, WAIT, connect_scan, hub_config


async def test_without_a_dbus_system_bus_bluez_is_reported_unavailable(
    start_hub, monkeypatch, tmp_path
):
    # The real BlueZ backend, pointed at a system bus that does not exist.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    hub = await start_hub(
        {
            "hub": {"station_id": "station-7"},
            "static_auth": {"users": {USER_TOKEN: "owner"}},
            "ble_provisioning": {},
        }
    )
    runtime = runtime_for(hub)
    assert runtime is not None
    await asyncio.wait_for(runtime.probed.wait(), WAIT)
    async with aiohttp.ClientSession(
        base_url=hub.http_url, headers={"Authorization": f"Bearer {USER_TOKEN}"}
    ) as http:
        async with http.get("/api/health") as response:
            assert response.status == 200
            health = await response.json()
        entry = health["details"]["ble_provisioning"]
        assert health["integrations"]["ble_provisioning"] == "unavailable"
        assert "D-Bus" in entry["error"]
        assert entry["info"]["available"] is False

        async with http.post(
            "/api/provisioning/add",
            json={"address": "C4:DD:57:50:00:01", "ssid": "a", "password": "correct horse"},
        ) as response:
            assert response.status == 503
            body = await response.json()
            assert body["error"]["code"] == "ble_unavailable"
            assert "D-Bus" in body["error"]["message"]

        watcher = await connect_scan(http, USER_TOKEN)
        state = await watcher.wait_for(lambda m: m.get("type") == "scan")
        assert state["state"] == "unavailable" and "D-Bus" in state["reason"]
        await watcher.close()

        # Everything else keeps working.
        async with http.get("/api/devices") as response:
            assert response.status == 200


async def test_a_missing_hci_controller_comes_back_and_scanning_resumes(virtual_air, start_hub):
    port = free_port()
    spec = f"tcp-client:127.0.0.1:{port}"
    hub = await start_hub(hub_config(spec, recheck_interval=0.05))
    runtime = runtime_for(hub)
    assert runtime is not None
    await asyncio.wait_for(runtime.probed.wait(), WAIT)
    assert hub.integration_state("ble_provisioning") == "unavailable"
    assert runtime.reason is not None
    assert "cannot open HCI controller" in runtime.reason

    async with aiohttp.ClientSession(base_url=hub.http_url) as http:
        watcher = await connect_scan(http, USER_TOKEN)
        await watcher.wait_for(lambda m: m.get("state") == "unavailable")

        # The controller is plugged in.
        await virtual_air.serve_hci(port=port)
        await SimulatedProvisioningDevice.start(virtual_air, "C4:DD:57:50:00:02")
        await watcher.wait_for(lambda m: m == {"type": "scan", "state": "started"})
        assert hub.integration_state("ble_provisioning") == "running"
        await watcher.candidate("C4:DD:57:50:00:02")
        await watcher.close()


async def test_a_controller_lost_while_scanning_is_reported_and_picked_up_again(
    virtual_air, start_hub
):
    port = free_port()
    endpoint = await virtual_air.serve_hci(port=port)
    hub = await start_hub(hub_config(f"tcp-client:127.0.0.1:{port}", recheck_interval=0.05))
    runtime = runtime_for(hub)
    assert runtime is not None
    await asyncio.wait_for(runtime.probed.wait(), WAIT)
    await SimulatedProvisioningDevice.start(virtual_air, "C4:DD:57:50:00:03")
    async with aiohttp.ClientSession(base_url=hub.http_url) as http:
        watcher = await connect_scan(http, USER_TOKEN)
        await watcher.candidate("C4:DD:57:50:00:03")

        before = len(watcher.messages)
        await endpoint.close()  # the dongle is pulled out
        lost = await watcher.wait_for(lambda m: m.get("state") == "unavailable", since=before)
        assert "went away" in lost["reason"]
        assert hub.integration_state("ble_provisioning") == "unavailable"

        await virtual_air.serve_hci(port=port)  # and plugged back in
        await watcher.wait_for(lambda m: m == {"type": "scan", "state": "started"}, since=before)
        await watcher.candidate("C4:DD:57:50:00:03", since=before)
        assert hub.integration_state("ble_provisioning") == "running"
        await watcher.close()


async def test_integration_setup_stays_fast_when_the_controller_never_answers(start_hub):
    # A TCP peer that accepts and then says nothing: the probe must not stall start-up.
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        hub = await start_hub(hub_config(f"tcp-client:127.0.0.1:{port}"))
        # The proof is the reason: the silent peer ends the probe only at PROBE_TIMEOUT, so
        # "still checking" means set-up returned without it. The clock only bounds it
        # loosely (a busy CI box stalls the loop for seconds).
        assert loop.time() - started < PROBE_TIMEOUT
        assert hub.integration_state("ble_provisioning") == "unavailable"
        runtime = runtime_for(hub)
        assert runtime is not None
        assert runtime.reason == "still checking the Bluetooth stack"
        async with (
            aiohttp.ClientSession(base_url=hub.http_url) as http,
            http.get("/api/health") as response,
        ):
            assert response.status == 200
    finally:
        silent.close()
