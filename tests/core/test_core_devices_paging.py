"""GET /api/devices on a fleet of 10 000: bounded pages, every device exactly once.

The body stays the plain JSON array; a page holds at most 1000 devices and
512 KiB, and ``Link``/``X-Next-Cursor`` name the next one.
"""

from __future__ import annotations

import re
import tracemalloc

import orjson

from hub.devices.paging import MAX_PAGE_BYTES, MAX_PAGE_SIZE, device_page
from tests.core.fleet import add_fleet

FLEET = 10_000


async def test_ten_thousand_devices_come_in_bounded_pages(authed_hub, hub_client) -> None:
    await add_fleet(authed_hub, FLEET, state_bytes=400)
    client = await hub_client(authed_hub, token="user-token")

    seen: list[str] = []
    url: str | None = "/api/devices"
    pages = 0
    peaks: list[int] = []
    tracemalloc.start()
    try:
        while url is not None:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            async with client.get(url) as response:
                assert response.status == 200
                body = await response.read()
                link = response.headers.get("Link")
                cursor = response.headers.get("X-Next-Cursor")
            # Server and client together, for one page: rendering, sending, receiving.
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
            devices = orjson.loads(body)
            assert isinstance(devices, list)
            assert 0 < len(devices) <= MAX_PAGE_SIZE
            assert len(body) <= MAX_PAGE_BYTES + 2
            seen.extend(device["id"] for device in devices)
            del devices, body
            pages += 1
            if link is None:
                assert cursor is None
                url = None
            else:
                match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
                assert match is not None, link
                url = match.group(1)
                assert f"cursor={cursor}" in url
    finally:
        tracemalloc.stop()
    assert len(seen) == FLEET and len(set(seen)) == FLEET
    assert seen == sorted(seen)
    assert pages >= FLEET // MAX_PAGE_SIZE
    # A page costs a small multiple of its own 512 KiB (the encoding, then socket and read
    # buffers on both ends), however large the fleet. Unpaged, this fleet is ~6 MB of JSON
    # and over 25 MB in flight at once.
    assert max(peaks) < 12 * MAX_PAGE_BYTES, peaks


async def test_small_fleets_get_the_same_plain_array_as_before(authed_hub, hub_client):
    await authed_hub.devices.handshake("lamp-1", device_type="lamp", transport="echo")
    client = await hub_client(authed_hub, token="user-token")
    async with client.get("/api/devices") as response:
        devices = await response.json()
        assert "Link" not in response.headers and "X-Next-Cursor" not in response.headers
    assert [device["externalId"] for device in devices] == ["lamp-1"]


async def test_limit_and_cursor(authed_hub, hub_client):
    await add_fleet(authed_hub, 25)
    client = await hub_client(authed_hub, token="user-token")
    async with client.get("/api/devices", params={"limit": "10"}) as response:
        first = await response.json()
        cursor = response.headers["X-Next-Cursor"]
    assert len(first) == 10 and cursor == first[-1]["id"]
    # A device removed between two pages neither shifts nor repeats the rest.
    await authed_hub.devices.remove(first[3]["id"])
    async with client.get("/api/devices", params={"limit": "10", "cursor": cursor}) as response:
        second = await response.json()
    assert second[0]["id"] > first[-1]["id"] and len(second) == 10
    for params in ({"limit": "0"}, {"limit": "1001"}, {"cursor": ""}, {"cursor": "x" * 200}):
        async with client.get("/api/devices", params=params) as response:
            assert response.status == 400, params
            assert (await response.json())["error"]["code"] == "invalid_query"


async def test_a_page_stops_at_its_byte_budget_but_never_empty(authed_hub):
    await add_fleet(authed_hub, 20, state_bytes=10_000)
    page = device_page(authed_hub.devices, cursor=None, limit=1000, max_bytes=25_000)
    assert len(page.devices) == 2 and page.next_cursor == page.devices[-1].id
    alone = device_page(authed_hub.devices, cursor=None, limit=1000, max_bytes=10)
    assert len(alone.devices) == 1


async def test_history_pages_are_bounded_in_bytes_and_lose_nothing(authed_hub, hub_client) -> None:
    """States may be 64 KiB each: 1000 of them would be a 64 MB page."""
    device = await authed_hub.devices.handshake("cam-1", device_type="cam", transport="echo")
    big = "y" * 60_000
    for index in range(30):
        authed_hub.devices.report_state(device, {"n": index, "blob": big})
    client = await hub_client(authed_hub, token="user-token")
    seen: list[int] = []
    before: str | None = None
    pages = 0
    while True:
        params: dict[str, str] = {"limit": "1000"}
        if before is not None:
            params["before"] = before
        async with client.get(f"/api/devices/{device.id}/history", params=params) as response:
            assert response.status == 200
            body = await response.read()
        assert len(body) <= MAX_PAGE_BYTES + 64 * 1024
        page = orjson.loads(body)
        seen.extend(item["state"]["n"] for item in page["items"])
        pages += 1
        before = page["nextBefore"]
        if before is None:
            break
    assert seen == list(range(29, -1, -1))
    assert pages >= 3
