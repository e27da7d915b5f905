"""Hostile credentials, and the agent's stored Wi-Fi (PUT /api/agent/wifi)."""

from __future__ import annotations

import aiohttp
import pytest

from plugins.ble_provisioning.testing import SimulatedProvisioningDevice
from tests.ble_provisioning.conftest import AGENT_TOKEN, USER_TOKEN, hub_config

ADDRESS = "C4:DD:57:40:00:01"


async def post_add(api, body):
    async with api.post("/api/provisioning/add", json=body) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("ssid", "password", "field", "rule"),
    [
        ("Farm\x00WiFi", "correct horse", "ssid", "NUL"),
        ("Farm WiFi", "correct\x00horse", "password", "NUL"),
        ("x" * 33, "correct horse", "ssid", "1-32 bytes"),
        ("é" * 17, "correct horse", "ssid", "1-32 bytes"),  # 17 chars, 34 bytes
        ("", "correct horse", "ssid", "1-32 bytes"),
        ("Farm WiFi", "short", "password", "8-63"),
        ("Farm WiFi", "p" * 64, "password", "hex"),
        ("Farm WiFi", "p" * 65, "password", "8-63"),
        ("Farm WiFi", "line\nbreak!", "password", "printable ASCII"),
    ],
)
async def test_invalid_credentials_are_refused_before_any_radio_work(
    virtual_air, ble_hub, api, open_scan, ssid, password, field, rule
):
    device = await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, networks={ssid: password}
    )
    socket = await open_scan(ble_hub)
    await socket.candidate(ADDRESS)

    status, body = await post_add(api, {"address": ADDRESS, "ssid": ssid, "password": password})

    assert status == 400, body
    if rule == "NUL":  # refused by the core's JSON reader for every route (hub.http.json)
        assert body["error"]["code"] == "invalid_json"
        assert body["error"]["message"].startswith(f"field {field!r}")
    else:
        assert body["error"]["code"] == "invalid_credentials"
        assert body["error"]["message"].startswith(f"{field}:")
    assert rule in body["error"]["message"]
    assert password not in body["error"]["message"] or password == "short"
    assert not device.connected.is_set()  # nothing went over the air


@pytest.mark.parametrize(
    ("ssid", "password"),
    [
        ('Farm "WiFi"\n2nd floor', 'p"a\\ss}{,word'),
        ("Café ☕ ünïcode", "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"),
        ("x" * 32, "~" * 63),
    ],
)
async def test_quotes_newlines_and_limits_reach_the_device_byte_for_byte(
    virtual_air, ble_hub, api, open_scan, ssid, password
):
    device = await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, networks={ssid: password}
    )
    socket = await open_scan(ble_hub)
    await socket.candidate(ADDRESS)

    status, body = await post_add(api, {"address": ADDRESS, "ssid": ssid, "password": password})

    assert status == 201, body
    [payload] = device.payloads
    assert payload["ssid"] == ssid and payload["password"] == password
    assert set(payload) == {
        "v",
        "ssid",
        "password",
        "stationId",
        "externalId",
        "broker",
        "deviceToken",
    }


async def test_wrong_types_and_unknown_fields_are_refused(ble_hub, api):
    for body in (
        {"address": ADDRESS, "ssid": 5, "password": "correct horse"},
        {"address": ADDRESS, "ssid": "a", "password": "correct horse", "admin": True},
        {"ssid": "Farm WiFi", "password": "correct horse"},
        {"address": ADDRESS, "ssid": "Farm WiFi"},
    ):
        status, answer = await post_add(api, body)
        assert status == 400, (body, answer)
        assert answer["error"]["code"] in ("invalid_request", "invalid_credentials")


async def test_agent_wifi_is_stored_used_when_the_request_has_none_and_survives_restart(
    virtual_air, start_hub, hci_endpoint, open_scan, tmp_path
):
    config = hub_config(hci_endpoint.spec)
    hub = await start_hub(config, config_dir=tmp_path / "config")
    agent = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    user = {"Authorization": f"Bearer {USER_TOKEN}"}
    async with aiohttp.ClientSession(base_url=hub.http_url) as http:
        async with http.put(
            "/api/agent/wifi", json={"ssid": "Barn", "password": "hay bales 42"}, headers=user
        ) as response:
            assert response.status in (401, 403)  # a user token is not the agent token
        async with http.put(
            "/api/agent/wifi", json={"ssid": "Barn", "password": "hay bales 42"}
        ) as response:
            assert response.status == 401
        async with http.put(
            "/api/agent/wifi", json={"ssid": "Barn", "password": "short"}, headers=agent
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "invalid_credentials"
        async with http.post(
            "/api/provisioning/add", json={"address": ADDRESS}, headers=user
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "wifi_credentials_missing"
        async with http.put(
            "/api/agent/wifi", json={"ssid": "Barn", "password": "hay bales 42"}, headers=agent
        ) as response:
            assert response.status == 200
            assert (await response.json())["ssid"] == "Barn"
        async with http.put(
            "/api/agent/wifi", json={"ssid": "Barn 2", "password": "hay bales 43"}, headers=agent
        ) as response:
            assert response.status == 200
        async with http.get("/api/agent/wifi", headers=agent) as response:
            stored = await response.json()
            assert stored["configured"] is True and stored["ssid"] == "Barn 2"
            assert "password" not in stored
    await hub.stop()

    # A new hub on the same config directory (same SQLite file) still has them.
    hub = await start_hub(config, config_dir=tmp_path / "config")
    device = await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, networks={"Barn 2": "hay bales 43"}
    )
    socket = await open_scan(hub)
    await socket.candidate(ADDRESS)
    async with aiohttp.ClientSession(base_url=hub.http_url, headers=user) as api:
        status, body = await post_add(api, {"address": ADDRESS})
    assert status == 201, body
    assert device.payloads[0]["ssid"] == "Barn 2"
    assert device.payloads[0]["password"] == "hay bales 43"
