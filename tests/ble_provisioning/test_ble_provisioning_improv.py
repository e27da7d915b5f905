"""Improv Wi-Fi devices (ESPHome/WLED style) provisioned through the same route."""

from __future__ import annotations

import asyncio

import aiohttp

from plugins.ble_provisioning.improv import ImprovState
from plugins.ble_provisioning.testing import SimulatedImprovDevice, SimulatedProvisioningDevice
from tests.ble_provisioning.conftest import USER_TOKEN, WAIT, hub_config

ADDRESS = "C4:DD:57:30:00:01"
NETWORKS = {"Farm WiFi": "correct horse"}


async def post(api, path, body):
    async with api.post(path, json=body) as response:
        return response.status, await response.json()


async def test_improv_device_joins_the_network_and_its_states_are_surfaced(
    virtual_air, ble_hub, api, open_scan
):
    device = await SimulatedImprovDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    socket = await open_scan(ble_hub)
    await socket.candidate(ADDRESS)

    status, body = await post(
        api,
        "/api/provisioning/add",
        {"address": ADDRESS, "ssid": "Farm WiFi", "password": "correct horse"},
    )

    assert status == 200, body
    assert body == {
        "address": ADDRESS,
        "protocol": "improv",
        "registered": False,
        # Longer than a 20-byte notification: read back from the characteristic.
        "redirectUrl": "http://esp-improv.local",
    }
    assert device.provisioned_with == ("Farm WiFi", "correct horse")
    assert device.state == ImprovState.PROVISIONED
    await socket.wait_for(
        lambda m: m.get("type") == "provisioning" and m.get("state") == "provisioned"
    )
    states = [m["state"] for m in socket.messages if m.get("type") == "provisioning"]
    relevant = [s for s in states if s in ("authorized", "provisioning", "provisioned")]
    assert relevant[:3] == ["authorized", "provisioning", "provisioned"]


async def test_improv_unable_to_connect_is_a_rejection_with_the_improv_reason(
    virtual_air, ble_hub, api, open_scan
):
    device = await SimulatedImprovDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    socket = await open_scan(ble_hub)
    await socket.candidate(ADDRESS)

    status, body = await post(
        api,
        "/api/provisioning/add",
        {"address": ADDRESS, "ssid": "Farm WiFi", "password": "wrong horse!"},
    )

    assert status == 422, body
    assert body["error"]["code"] == "rejected"
    assert body["error"]["details"] == {"reason": "unable_to_connect", "deviceError": 3}
    assert device.provisioned_with is None
    assert device.state == ImprovState.AUTHORIZED  # ready for another attempt
    failed = await socket.wait_for(
        lambda m: m.get("type") == "provisioning" and m.get("state") == "failed"
    )
    assert failed["error"]["code"] == "rejected"


async def test_improv_waits_for_the_button_press_then_provisions(
    virtual_air, ble_hub, api, open_scan
):
    device = await SimulatedImprovDevice.start(
        virtual_air, ADDRESS, networks=NETWORKS, require_authorization=True
    )
    socket = await open_scan(ble_hub)
    candidate = await socket.candidate(ADDRESS)
    assert candidate["improv"]["state"] == "authorization_required"

    request = asyncio.create_task(
        post(
            api,
            "/api/provisioning/add",
            {"address": ADDRESS, "ssid": "Farm WiFi", "password": "correct horse"},
        )
    )
    await socket.wait_for(
        lambda m: m.get("type") == "provisioning" and m.get("state") == "authorization_required"
    )
    await device.authorize()  # the user presses the button
    status, body = await request
    assert status == 200, body
    assert device.provisioned_with == ("Farm WiFi", "correct horse")


async def test_improv_never_authorized_fails_with_authorization_required(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, answer_timeout=0.3))
    device = await SimulatedImprovDevice.start(
        virtual_air, ADDRESS, networks=NETWORKS, require_authorization=True
    )
    socket = await open_scan(hub)
    await socket.candidate(ADDRESS)
    async with aiohttp.ClientSession(
        base_url=hub.http_url, headers={"Authorization": f"Bearer {USER_TOKEN}"}
    ) as api:
        status, body = await post(
            api,
            "/api/provisioning/add",
            {"address": ADDRESS, "ssid": "Farm WiFi", "password": "correct horse"},
        )
    assert status == 422
    assert body["error"]["details"]["reason"] == "authorization_required"
    assert "press its button" in body["error"]["message"]
    assert device.provisioned_with is None


async def test_identify_reaches_an_improv_device_and_is_refused_without_the_capability(
    virtual_air, ble_hub, api, open_scan
):
    blinker = await SimulatedImprovDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    mute = await SimulatedImprovDevice.start(
        virtual_air, "C4:DD:57:30:00:02", networks=NETWORKS, capabilities=0
    )
    socket = await open_scan(ble_hub)
    await socket.candidate(ADDRESS)
    await socket.candidate("C4:DD:57:30:00:02")

    status, body = await post(api, "/api/provisioning/identify", {"address": ADDRESS})
    assert status == 200, body
    await asyncio.wait_for(blinker.identify_received.wait(), WAIT)
    assert blinker.identified == 1

    status, body = await post(api, "/api/provisioning/identify", {"address": "C4:DD:57:30:00:02"})
    assert status == 409 and body["error"]["code"] == "not_supported"
    assert mute.identified == 0


async def test_with_improv_disabled_improv_devices_are_not_candidates(
    virtual_air, start_hub, hci_endpoint, open_scan
):
    hub = await start_hub(hub_config(hci_endpoint.spec, improv=False))
    improv = await SimulatedImprovDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    custom = await SimulatedProvisioningDevice.start(virtual_air, "C4:DD:57:30:00:09")
    socket = await open_scan(hub)
    # Both advertise every 20 ms from the same moment; once the custom device has been
    # reported, the Improv device has advertised too.
    await socket.candidate("C4:DD:57:30:00:09")
    assert ADDRESS not in socket.candidates()
    assert improv.device is not None and custom.device is not None
