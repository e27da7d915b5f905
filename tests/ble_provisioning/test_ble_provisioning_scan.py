"""Discovery, filtering and the seed's scan lifecycle over real WebSockets."""

from __future__ import annotations

import asyncio

import aiohttp

from plugins.ble_provisioning import advertising, runtime_for
from plugins.ble_provisioning.const import (
    CUSTOM_SERVICE_UUID,
    IMPROV_SERVICE_DATA_UUID,
    IMPROV_SERVICE_UUID,
)
from plugins.ble_provisioning.testing import SimulatedImprovDevice, SimulatedProvisioningDevice
from tests.ble_provisioning.conftest import WAIT, hub_config

CUSTOM_ADDRESS = "C4:DD:57:10:00:01"
IMPROV_ADDRESS = "C4:DD:57:10:00:02"
OTHER_ADDRESS = "C4:DD:57:10:00:03"
HEART_RATE_SERVICE = "180d"


async def advertise_unrelated(air, address):
    """A BLE device that is not a provisioning candidate (a heart-rate strap)."""
    device = await air.device("HR strap", address)
    await device.start_advertising(
        advertising_data=advertising.build_payload(
            [
                advertising.flags(),
                advertising.complete_service_uuids([HEART_RATE_SERVICE]),
                advertising.local_name("HR strap", complete=True),
            ]
        ),
        advertising_interval_min=20,
        advertising_interval_max=20,
    )
    return device


async def test_candidates_carry_the_seed_fields_and_only_provisioning_devices_appear(
    virtual_air, ble_hub, open_scan
):
    await SimulatedProvisioningDevice.start(virtual_air, CUSTOM_ADDRESS, name="Greenhouse")
    await SimulatedImprovDevice.start(virtual_air, IMPROV_ADDRESS)
    other = await advertise_unrelated(virtual_air, OTHER_ADDRESS)
    seen_other = asyncio.Event()
    # The unrelated device must really be on the air, or its absence would prove nothing.
    listener = await virtual_air.device("listener", "F1:F1:F1:F1:F1:F1")
    listener.on(
        "advertisement",
        lambda advert: seen_other.set() if str(advert.address) == OTHER_ADDRESS else None,
    )
    await listener.start_scanning()

    socket = await open_scan(ble_hub)
    custom = await socket.candidate(CUSTOM_ADDRESS)
    improv = await socket.candidate(IMPROV_ADDRESS)
    await asyncio.wait_for(seen_other.wait(), WAIT)

    assert set(custom) >= {"address", "name", "rssi", "serviceUuids", "serviceData"}
    assert custom["address"] == CUSTOM_ADDRESS
    assert custom["name"] == "Greenhou"  # the advert's shortened name (8 bytes)
    assert custom["rssi"] == -50  # bumble's fixed RSSI
    assert custom["serviceUuids"] == [CUSTOM_SERVICE_UUID]
    assert custom["protocol"] == "custom"
    assert improv["serviceUuids"] == [IMPROV_SERVICE_UUID]
    assert improv["serviceData"] == {IMPROV_SERVICE_DATA_UUID: "020300000000"}
    assert improv["protocol"] == "improv"
    assert improv["improv"] == {"state": "authorized", "capabilities": 3}
    assert OTHER_ADDRESS not in socket.candidates()
    assert other is not None


async def test_first_client_starts_the_scan_last_one_stops_it_and_new_clients_get_a_replay(
    virtual_air, ble_hub, api, open_scan, scan_state_of
):
    runtime = runtime_for(ble_hub)
    assert runtime is not None
    scans = runtime.scans
    device = await SimulatedProvisioningDevice.start(virtual_air, CUSTOM_ADDRESS)
    assert device.device is not None
    assert not scan_state_of()

    first = await open_scan(ble_hub)
    await first.wait_for(lambda m: m == {"type": "scan", "state": "started"})
    assert scan_state_of()
    await first.candidate(CUSTOM_ADDRESS)

    # The device goes quiet: a second client can only learn of it from the replay.
    await device.device.stop_advertising()
    second = await open_scan(ble_hub)
    replayed = await second.candidate(CUSTOM_ADDRESS)
    assert replayed["address"] == CUSTOM_ADDRESS
    assert second.messages[0] == {"type": "scan", "state": "started"}

    await first.close()
    await asyncio.wait_for(scans.wait_until(lambda s: s.watcher_count == 1), WAIT)
    assert scans.scanning and scan_state_of()

    await second.close()
    await asyncio.wait_for(scans.wait_until(lambda s: not s.scanning), WAIT)
    assert not scan_state_of()
    async with api.get("/api/provisioning/candidates") as response:
        assert response.status == 200
        assert await response.json() == []

    # A new scan starts empty: the silent device is not resurrected from a stale cache.
    third = await open_scan(ble_hub)
    await third.wait_for(lambda m: m == {"type": "scan", "state": "started"})
    assert scan_state_of()
    await device.device.start_advertising(
        advertising_data=device.advertising_data(),
        advertising_interval_min=20,
        advertising_interval_max=20,
    )
    fresh = await third.candidate(CUSTOM_ADDRESS)
    assert fresh["address"] == CUSTOM_ADDRESS
    first_candidate = next(m for m in third.messages if m.get("type") == "candidate")
    assert first_candidate == {"type": "candidate", "candidate": fresh}


async def test_the_socket_requires_a_valid_user_token(ble_hub):
    async with aiohttp.ClientSession(base_url=ble_hub.http_url) as session:
        socket = await session.ws_connect("/api/provisioning/ws")
        assert (await socket.receive_json(timeout=WAIT))["type"] == "auth_required"
        await socket.send_json({"type": "auth", "access_token": "forged"})
        answer = await socket.receive_json(timeout=WAIT)
        assert answer["type"] == "auth_invalid"
        closing = await socket.receive(timeout=WAIT)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    runtime = runtime_for(ble_hub)
    assert runtime is not None
    assert runtime.scans.watcher_count == 0


async def test_malformed_client_messages_get_an_error_and_the_feed_continues(
    virtual_air, ble_hub, open_scan
):
    socket = await open_scan(ble_hub)
    await socket.socket.send_str("{not json")
    await socket.wait_for(lambda m: m.get("type") == "error")
    await socket.socket.send_json({"type": "ping", "id": 7})
    assert await socket.wait_for(lambda m: m.get("type") == "pong") == {"type": "pong", "id": 7}
    await SimulatedProvisioningDevice.start(virtual_air, CUSTOM_ADDRESS)
    await socket.candidate(CUSTOM_ADDRESS)


async def test_a_device_that_stops_advertising_is_removed_after_the_ttl(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, candidate_ttl=0.3))
    device = await SimulatedProvisioningDevice.start(virtual_air, CUSTOM_ADDRESS)
    assert device.device is not None
    socket = await open_scan(hub)
    await socket.candidate(CUSTOM_ADDRESS)
    await device.device.stop_advertising()
    removed = await socket.wait_for(lambda m: m.get("type") == "candidate_removed")
    assert removed == {"type": "candidate_removed", "address": CUSTOM_ADDRESS}
