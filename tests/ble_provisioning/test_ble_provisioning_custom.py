"""POST /api/provisioning/add against simulated ESP32s running the custom GATT firmware."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time

import aiohttp

from plugins.ble_provisioning import runtime_for
from plugins.ble_provisioning.testing import Behaviour, SimulatedProvisioningDevice
from tests.ble_provisioning.conftest import BROKER_URL, WAIT, hub_config

ADDRESS = "C4:DD:57:20:00:01"
NETWORKS = {"Farm WiFi": "correct horse"}


async def provision(api, **body):
    async with api.post("/api/provisioning/add", json=body) as response:
        return response.status, await response.json()


async def found(open_scan, hub, address=ADDRESS):
    socket = await open_scan(hub)
    await socket.candidate(address)
    return socket


async def test_success_hands_over_wifi_station_info_and_a_token_the_hub_accepts(
    virtual_air, ble_hub, api, open_scan
):
    device = await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, name="Pump-1", networks=NETWORKS
    )
    socket = await found(open_scan, ble_hub)

    status, body = await provision(
        api, address=ADDRESS, ssid="Farm WiFi", password="correct horse", name="Pump one"
    )

    assert status == 201, body
    assert body["protocol"] == "custom" and body["registered"] is True
    [payload] = device.payloads
    assert payload["ssid"] == "Farm WiFi" and payload["password"] == "correct horse"
    assert payload["stationId"] == "station-7"
    assert payload["broker"] == BROKER_URL
    assert payload["externalId"] == "esp32-c4dd57200001" == body["device"]["externalId"]
    registered = ble_hub.devices.by_external_id(payload["externalId"])
    assert registered is not None and registered.name == "Pump one"
    assert body["device"]["pending"] is True
    # The hub stores only the token's SHA-256, and the token works at once.
    token = payload["deviceToken"]
    assert ble_hub.devices.by_token_digest(hashlib.sha256(token.encode()).hexdigest()) is registered
    assert "deviceToken" not in str(body)
    async with (
        aiohttp.ClientSession(base_url=ble_hub.http_url) as device_http,
        device_http.post(
            "/api/device/events", json={"type": "boot"}, headers={"X-Device-Token": token}
        ) as response,
    ):
        assert response.status == 202
    # Watchers saw the device's progress, and the provisioned candidate is gone.
    states = []
    await socket.wait_for(lambda m: m.get("type") == "candidate_removed")
    for message in socket.messages:
        if message.get("type") == "provisioning":
            states.append(message["state"])
    assert states[:2] == ["connecting", "connected"]
    assert states[2:] == ["writing", "received", "joining_wifi", "wifi_joined", "provisioned"]
    assert ble_hub.devices.by_external_id("esp32-c4dd57200001") is registered


async def test_wrong_password_is_reported_and_nothing_is_registered(
    virtual_air, ble_hub, api, open_scan
):
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    await found(open_scan, ble_hub)

    status, body = await provision(api, address=ADDRESS, ssid="Farm WiFi", password="wrong horse")

    assert status == 422
    assert body["error"]["code"] == "rejected"
    assert body["error"]["details"] == {"reason": "wrong_password", "deviceError": 2}
    assert "refused the passphrase" in body["error"]["message"]
    assert len(device.payloads) == 1  # the device did get the attempt
    assert ble_hub.devices.by_external_id("esp32-c4dd57200001") is None


async def test_device_losing_power_mid_write_is_a_clear_502_and_the_hub_carries_on(
    virtual_air, ble_hub, api, open_scan
):
    doomed = await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, networks=NETWORKS, behaviour=Behaviour.VANISH_MID_WRITE
    )
    healthy = await SimulatedProvisioningDevice.start(
        virtual_air, "C4:DD:57:20:00:02", networks=NETWORKS
    )
    socket = await found(open_scan, ble_hub)
    await socket.candidate("C4:DD:57:20:00:02")

    started = time.monotonic()
    status, body = await provision(api, address=ADDRESS, ssid="Farm WiFi", password="correct horse")
    elapsed = time.monotonic() - started

    assert doomed.vanished.is_set() and doomed.prepared_parts >= 1
    assert status == 502, body
    assert body["error"]["code"] == "device_disconnected"
    # The link loss ended the attempt, not the answer timeout (that would be 504
    # answer_timeout); the clock bounds it only loosely, as a busy box stalls for seconds.
    assert elapsed < WAIT
    assert ble_hub.devices.by_external_id("esp32-c4dd57200001") is None
    async with api.get("/api/health") as response:
        health = await response.json()
    assert health["integrations"]["ble_provisioning"] == "running"
    status, _ = await provision(
        api, address="C4:DD:57:20:00:02", ssid="Farm WiFi", password="correct horse"
    )
    assert status == 201 and healthy.payloads


async def test_att_error_on_the_write_is_reported_with_its_code(
    virtual_air, ble_hub, api, open_scan
):
    await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, networks=NETWORKS, behaviour=Behaviour.ATT_ERROR, att_error=0x80
    )
    await found(open_scan, ble_hub)

    status, body = await provision(api, address=ADDRESS, ssid="Farm WiFi", password="correct horse")

    assert status == 502
    assert body["error"]["code"] == "att_error"
    assert body["error"]["details"] == {"attErrorCode": 0x80}
    assert ble_hub.devices.by_external_id("esp32-c4dd57200001") is None


async def test_a_silent_device_times_out_with_answer_timeout(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, answer_timeout=0.3))
    device = await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, networks=NETWORKS, behaviour=Behaviour.SILENT
    )
    await found(open_scan, hub)
    async with aiohttp.ClientSession(
        base_url=hub.http_url, headers={"Authorization": "Bearer user-token"}
    ) as api:
        status, body = await provision(
            api, address=ADDRESS, ssid="Farm WiFi", password="correct horse"
        )
    assert status == 504 and body["error"]["code"] == "answer_timeout"
    assert device.raw_writes  # written, never answered


async def test_a_device_gone_before_connect_times_out_and_the_next_connect_works(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, connect_timeout=0.3))
    gone = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    await SimulatedProvisioningDevice.start(virtual_air, "C4:DD:57:20:00:02", networks=NETWORKS)
    socket = await found(open_scan, hub)
    await socket.candidate("C4:DD:57:20:00:02")
    virtual_air.vanish(gone.device)

    async with aiohttp.ClientSession(
        base_url=hub.http_url, headers={"Authorization": "Bearer user-token"}
    ) as api:
        started = time.monotonic()
        status, body = await provision(
            api, address=ADDRESS, ssid="Farm WiFi", password="correct horse"
        )
        assert status == 504 and body["error"]["code"] == "connect_timeout", body
        assert time.monotonic() - started < 0.3 + 3.0
        status, body = await provision(
            api, address="C4:DD:57:20:00:02", ssid="Farm WiFi", password="correct horse"
        )
        assert status == 201, body


async def test_long_write_at_mtu_23_arrives_whole_through_prepared_writes(
    virtual_air, ble_hub, api, open_scan
):
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    await found(open_scan, ble_hub)

    status, _ = await provision(api, address=ADDRESS, ssid="Farm WiFi", password="correct horse")

    assert status == 201
    [raw] = device.raw_writes
    assert len(raw) > 200  # JSON + 43-char token: far beyond MTU - 3 = 20 bytes
    # Prepare Write carries MTU - 5 = 18 bytes per part at the default MTU of 23.
    assert device.prepared_parts == math.ceil(len(raw) / 18)
    assert device.payloads[0]["password"] == "correct horse"


async def test_with_a_negotiated_mtu_the_payload_goes_in_one_write(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, mtu=517))
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    await found(open_scan, hub)
    async with aiohttp.ClientSession(
        base_url=hub.http_url, headers={"Authorization": "Bearer user-token"}
    ) as api:
        status, _ = await provision(
            api, address=ADDRESS, ssid="Farm WiFi", password="correct horse"
        )
    assert status == 201
    assert device.prepared_parts == 0 and len(device.raw_writes[0]) > 200


async def test_unknown_address_and_concurrent_requests_are_refused_clearly(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, answer_timeout=1.0))
    slow = await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, networks=NETWORKS, behaviour=Behaviour.SILENT
    )
    await found(open_scan, hub)
    async with aiohttp.ClientSession(
        base_url=hub.http_url, headers={"Authorization": "Bearer user-token"}
    ) as api:
        status, body = await provision(
            api, address="C4:DD:57:99:99:99", ssid="Farm WiFi", password="correct horse"
        )
        assert status == 404 and body["error"]["code"] == "unknown_candidate"

        first = asyncio.create_task(
            provision(api, address=ADDRESS, ssid="Farm WiFi", password="correct horse")
        )
        await asyncio.wait_for(slow.written.wait(), WAIT)
        status, body = await provision(
            api, address=ADDRESS, ssid="Farm WiFi", password="correct horse"
        )
        assert status == 409 and body["error"]["code"] == "busy"
        status, _ = await first
        assert status == 504
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.provisioner._busy is None
