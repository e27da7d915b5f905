"""Provisioning is an owner/admin act (issue #11 §3), against simulated ESP32s.

A plain user may watch the scan, but may neither provision (which sends the station's
Wi-Fi passphrase and a device token to a radio peer of their choosing) nor identify; the
stored passphrase is never sent for a role that may not hand it out; and an existing
device is re-bound to new hardware only on an explicit ``replace: true``, recorded with
who did it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp

from plugins.ble_provisioning import routes
from plugins.ble_provisioning.testing import SimulatedProvisioningDevice
from tests.ble_provisioning.conftest import AGENT_TOKEN, MEMBER_TOKEN, USER_TOKEN, hub_config

ADDRESS = "C4:DD:57:60:00:01"
NEW_BOARD = "C4:DD:57:60:00:02"
NETWORKS = {"Farm WiFi": "correct horse", "Barn": "hay bales 42"}
WIFI = {"ssid": "Farm WiFi", "password": "correct horse"}


async def post(hub: Any, path: str, body: dict[str, Any], token: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(base_url=hub.http_url) as http,
        http.post(path, json=body, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status, await response.json()


async def store_wifi(hub: Any) -> None:
    async with (
        aiohttp.ClientSession(base_url=hub.http_url) as http,
        http.put(
            "/api/agent/wifi",
            json={"ssid": "Barn", "password": "hay bales 42"},
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
        ) as response,
    ):
        assert response.status == 200


async def test_a_plain_user_can_watch_but_not_provision_or_identify(
    virtual_air, ble_hub, open_scan
):
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    await store_wifi(ble_hub)
    socket = await open_scan(ble_hub, MEMBER_TOKEN)  # watching is open to users
    await socket.candidate(ADDRESS)

    for body in ({"address": ADDRESS}, {"address": ADDRESS, **WIFI}):
        status, answer = await post(ble_hub, "/api/provisioning/add", body, MEMBER_TOKEN)
        assert status == 403, answer
        assert answer["error"]["code"] == "forbidden"
    status, _ = await post(
        ble_hub, "/api/provisioning/identify", {"address": ADDRESS}, MEMBER_TOKEN
    )
    assert status == 403

    assert not device.connected.is_set()  # nothing went over the air
    assert device.payloads == []
    assert ble_hub.devices.all() == []


async def test_the_stored_passphrase_is_never_sent_for_a_role_that_may_not_hand_it_out(
    virtual_air, start_hub, hci_endpoint, open_scan, monkeypatch
):
    # A station that lets plain users provision must still not lend them the stored
    # passphrase: they bring their own credentials or get a 403.
    monkeypatch.setattr(routes, "PROVISIONING_ROLES", ("owner", "admin", "user"))
    hub = await start_hub(hub_config(hci_endpoint.spec))
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    await store_wifi(hub)
    socket = await open_scan(hub)
    await socket.candidate(ADDRESS)

    status, answer = await post(hub, "/api/provisioning/add", {"address": ADDRESS}, MEMBER_TOKEN)

    assert status == 403, answer
    assert "stored Wi-Fi passphrase" in answer["error"]["message"]
    assert not device.connected.is_set() and device.payloads == []
    # With their own credentials they may.
    status, answer = await post(
        hub, "/api/provisioning/add", {"address": ADDRESS, **WIFI}, MEMBER_TOKEN
    )
    assert status == 201, answer
    assert device.payloads[0]["password"] == "correct horse"


async def test_an_existing_external_id_is_rebound_only_with_replace_true(
    virtual_air, ble_hub, open_scan
) -> None:
    old = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    new = await SimulatedProvisioningDevice.start(virtual_air, NEW_BOARD, networks=NETWORKS)
    socket = await open_scan(ble_hub)
    await socket.candidate(ADDRESS)
    await socket.candidate(NEW_BOARD)
    recorded: list[dict[str, Any]] = []
    ble_hub.bus.listen(routes.DEVICE_PROVISIONED, lambda event: recorded.append(event.data))

    status, first = await post(
        ble_hub,
        "/api/provisioning/add",
        {"address": ADDRESS, "externalId": "pump-1", **WIFI},
        USER_TOKEN,
    )
    assert status == 201, first
    old_token = old.payloads[0]["deviceToken"]
    device = ble_hub.devices.by_external_id("pump-1")
    assert recorded[-1]["replaced"] is False and recorded[-1]["externalId"] == "pump-1"

    # New hardware asking for the same id without saying so: refused, nothing sent.
    status, refused = await post(
        ble_hub,
        "/api/provisioning/add",
        {"address": NEW_BOARD, "externalId": "pump-1", **WIFI},
        USER_TOKEN,
    )
    assert status == 409, refused
    assert refused["error"]["code"] == "device_exists"
    assert "replace" in refused["error"]["message"]
    assert refused["error"]["details"] == {"externalId": "pump-1", "deviceId": device.id}
    assert new.payloads == [] and not new.connected.is_set()
    assert ble_hub.devices.by_token_digest(_digest(old_token)) is device  # old one still works

    # Said explicitly: the id moves to the new board, and who did it is recorded.
    status, replaced = await post(
        ble_hub,
        "/api/provisioning/add",
        {"address": NEW_BOARD, "externalId": "pump-1", "replace": True, **WIFI},
        USER_TOKEN,
    )
    assert status == 201, replaced
    new_token = new.payloads[0]["deviceToken"]
    assert ble_hub.devices.by_token_digest(_digest(new_token)) is device
    assert ble_hub.devices.by_token_digest(_digest(old_token)) is None
    assert recorded[-1] == {
        "address": NEW_BOARD,
        "protocol": "custom",
        "externalId": "pump-1",
        "deviceId": device.id,
        "replaced": True,
        "by": {"kind": "user", "id": "user-owner", "name": "owner"},
    }


async def test_the_default_external_id_is_protected_too(virtual_air, ble_hub, open_scan):
    """A device re-advertising after a reset gets the same default id: re-provisioning
    it needs ``replace: true`` as well."""
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    socket = await open_scan(ble_hub)
    await socket.candidate(ADDRESS)
    status, _ = await post(
        ble_hub, "/api/provisioning/add", {"address": ADDRESS, **WIFI}, USER_TOKEN
    )
    assert status == 201
    await ble_hub.devices.expect_device("esp32-c4dd57600002", token_digest=_digest("x" * 43))

    other = await SimulatedProvisioningDevice.start(virtual_air, NEW_BOARD, networks=NETWORKS)
    await socket.candidate(NEW_BOARD)
    status, body = await post(
        ble_hub, "/api/provisioning/add", {"address": NEW_BOARD, **WIFI}, USER_TOKEN
    )
    assert status == 409 and body["error"]["details"]["externalId"] == "esp32-c4dd57600002"
    assert other.payloads == [] and len(device.payloads) == 1


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
