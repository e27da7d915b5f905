"""GET /api/devices/{device_id}/events: a device's past events, newest first, paged by time.

The registry stamps events with ``time.time()``; these tests give it a clock that steps a
millisecond per reading, so every event has its own time and the paging they check does
not depend on how fast the machine reports events.
"""

from __future__ import annotations

import itertools
import types

import pytest

from hub.devices import registry as registry_module


@pytest.fixture
def stepping_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readings 1 ms apart (the registry only ever calls ``time.time``)."""
    ticks = itertools.count()
    start = 1_764_436_189.0
    monkeypatch.setattr(
        registry_module, "time", types.SimpleNamespace(time=lambda: start + next(ticks) / 1000)
    )


async def _device_with_events(hub, count: int):
    device = await hub.devices.handshake("ev-1", device_type="x", transport="echo")
    for n in range(count):
        hub.devices.report_event(device, "pressed", {"n": n}, seq=n)
    await hub.devices.flush()
    return device


async def test_events_come_back_newest_first_in_iso(authed_hub, hub_client, stepping_clock):
    device = await _device_with_events(authed_hub, 3)
    client = await hub_client(authed_hub, token="user-token")
    async with client.get(f"/api/devices/{device.id}/events") as response:
        assert response.status == 200
        page = await response.json()
    assert [item["data"]["n"] for item in page["items"]] == [2, 1, 0]
    assert [item["seq"] for item in page["items"]] == [2, 1, 0]
    assert {item["type"] for item in page["items"]} == {"pressed"}
    assert all(item["recordedAt"].endswith("+00:00") for item in page["items"])
    assert page["nextBefore"] is None


async def test_paging_with_before_loses_and_repeats_nothing(authed_hub, hub_client, stepping_clock):
    device = await _device_with_events(authed_hub, 7)
    client = await hub_client(authed_hub, token="user-token")
    url = f"/api/devices/{device.id}/events"
    seen: list[int] = []
    params = {"limit": "3"}
    pages = 0
    while True:
        async with client.get(url, params=params) as response:
            assert response.status == 200
            page = await response.json()
        pages += 1
        seen.extend(item["seq"] for item in page["items"])
        if page["nextBefore"] is None:
            break
        assert page["nextBefore"] == page["items"][-1]["recordedAt"]
        params = {"limit": "3", "before": page["nextBefore"]}
    assert seen == [6, 5, 4, 3, 2, 1, 0]
    assert pages == 3


async def test_events_of_other_devices_are_not_shown(authed_hub, hub_client, stepping_clock):
    device = await _device_with_events(authed_hub, 1)
    other = await authed_hub.devices.handshake("ev-2", device_type="x", transport="echo")
    authed_hub.devices.report_event(other, "elsewhere")
    client = await hub_client(authed_hub, token="user-token")
    async with client.get(f"/api/devices/{device.id}/events") as response:
        page = await response.json()
    assert [item["type"] for item in page["items"]] == ["pressed"]


async def test_a_page_is_bounded_in_bytes(authed_hub, hub_client, stepping_clock):
    device = await authed_hub.devices.handshake("ev-big", device_type="x", transport="echo")
    for n in range(12):
        authed_hub.devices.report_event(device, "blob", {"n": n, "pad": "x" * 60_000})
    await authed_hub.devices.flush()
    client = await hub_client(authed_hub, token="user-token")
    async with client.get(f"/api/devices/{device.id}/events", params={"limit": "1000"}) as response:
        page = await response.json()
    # 512 KiB holds eight 60 kB events, not twelve; the rest is on the next page.
    assert 1 <= len(page["items"]) < 12
    assert page["nextBefore"] == page["items"][-1]["recordedAt"]


async def test_auth_is_required(authed_hub, hub_client):
    device = await _device_with_events(authed_hub, 1)
    for token in (None, "wrong"):
        client = await hub_client(authed_hub, token=token)
        async with client.get(f"/api/devices/{device.id}/events") as response:
            assert response.status == 401


@pytest.mark.parametrize("limit", ["0", "1001", "ten", "-1", "+5"])
async def test_a_bad_limit_is_a_400(authed_hub, hub_client, limit):
    device = await _device_with_events(authed_hub, 1)
    client = await hub_client(authed_hub, token="user-token")
    async with client.get(f"/api/devices/{device.id}/events", params={"limit": limit}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_query"


async def test_a_bad_before_is_a_400(authed_hub, hub_client):
    device = await _device_with_events(authed_hub, 1)
    client = await hub_client(authed_hub, token="user-token")
    url = f"/api/devices/{device.id}/events"
    async with client.get(url, params={"before": "2026-11-29T17:09:49"}) as response:
        assert response.status == 400
        assert "UTC offset" in (await response.json())["error"]["message"]


async def test_an_unknown_device_is_a_404(authed_hub, hub_client):
    client = await hub_client(authed_hub, token="user-token")
    async with client.get("/api/devices/nope/events") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "device_not_found"


async def test_the_route_is_in_openapi_with_user_auth(authed_hub, hub_client):
    client = await hub_client(authed_hub)
    async with client.get("/api/openapi.json") as response:
        document = await response.json()
    operation = document["paths"]["/api/devices/{device_id}/events"]["get"]
    history = document["paths"]["/api/devices/{device_id}/history"]["get"]
    assert operation["security"] == history["security"] == [{"user": []}]
