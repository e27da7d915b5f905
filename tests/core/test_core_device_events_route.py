"""GET /api/devices/{device_id}/events (and /history, which pages the same way): a
device's past events, newest first, paged by a ``nextBefore`` cursor.

The registry stamps events with ``time.time()``; these tests give it a clock that steps a
millisecond per reading, so every event has its own time and the paging they check does
not depend on how fast the machine reports events; or one that repeats chosen readings,
to page through rows that share a time or a microsecond.
"""

from __future__ import annotations

import itertools
import math
import random
import types
from collections.abc import Callable

import pytest

from hub.devices import registry as registry_module
from hub.devices.history import MAX_CURSOR_CHARS, PageCursor
from hub.timestamps import parse_iso


@pytest.fixture
def stepping_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readings 1 ms apart (the registry only ever calls ``time.time``)."""
    ticks = itertools.count()
    start = 1_764_436_189.0
    monkeypatch.setattr(
        registry_module, "time", types.SimpleNamespace(time=lambda: start + next(ticks) / 1000)
    )


@pytest.fixture
def clock_readings(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[float]], None]:
    """Installs a clock that answers the given readings in turn, then the last one again."""

    def install(readings: list[float]) -> None:
        ticks = itertools.chain(readings, itertools.repeat(readings[-1]))
        monkeypatch.setattr(
            registry_module, "time", types.SimpleNamespace(time=lambda: next(ticks))
        )

    return install


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


async def test_paging_with_before_loses_and_repeats_nothing(
    authed_hub, hub_client, stepping_clock
) -> None:
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
        # The cursor starts with the last entry's time (this clock's readings are whole
        # milliseconds) and ends with its row id.
        assert page["nextBefore"].startswith(page["items"][-1]["recordedAt"][:-6] + "Z~")
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
    assert page["nextBefore"].startswith(page["items"][-1]["recordedAt"][:-6] + "Z~")


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


# Readings inside one microsecond: ties (BASE five times, then again) and floats a few
# ulps apart (a float near 1.76e9 s has ~0.24 us of resolution), out of id order, so
# ``recordedAt``, truncated to the microsecond, is one value for all of them.
BASE = 1_764_436_189.0
ULP = math.ulp(BASE)
SHARED = [BASE] * 5 + [BASE + 2 * ULP, BASE + ULP, BASE + 2 * ULP, BASE, BASE + 3 * ULP]


async def _walk(client, url: str, limit: int, key: str) -> list[int]:
    """Every page from the newest, following nextBefore; the entries' ``key`` in order."""
    seen: list[int] = []
    params = {"limit": str(limit)}
    for _ in range(len(SHARED) + 2):
        async with client.get(url, params=params) as response:
            assert response.status == 200, await response.text()
            page = await response.json()
        seen.extend(item[key] if key == "seq" else item["state"][key] for item in page["items"])
        if page["nextBefore"] is None:
            return seen
        params = {"limit": str(limit), "before": page["nextBefore"]}
    raise AssertionError(f"the walk did not end: {seen}")


@pytest.mark.parametrize("kind", ["events", "history"])
async def test_rows_sharing_a_time_are_each_paged_once_in_order(
    authed_hub, hub_client, clock_readings, kind
):
    """A batch shares one recorded_at: a time-only cursor skipped the rest of it."""
    device = await authed_hub.devices.handshake("ev-batch", device_type="x", transport="echo")
    clock_readings(SHARED)
    for n in range(len(SHARED)):
        if kind == "events":
            authed_hub.devices.report_event(device, "pressed", None, seq=n)
        else:
            assert authed_hub.devices.report_state(device, {"n": n})
    await authed_hub.devices.flush()
    # Newest first: the later time first, and the later row (higher id) of one time first.
    expected = sorted(range(len(SHARED)), key=lambda n: (SHARED[n], n), reverse=True)
    client = await hub_client(authed_hub, token="user-token")
    url = f"/api/devices/{device.id}/{kind}"
    for limit in (1, 2, 3):
        assert await _walk(client, url, limit, "seq" if kind == "events" else "n") == expected


async def test_a_time_as_before_still_starts_the_page_before_it(
    authed_hub, hub_client, stepping_clock
):
    """Clients that pass a time (ISO or epoch seconds) keep getting what was before it."""
    device = await _device_with_events(authed_hub, 4)
    client = await hub_client(authed_hub, token="user-token")
    url = f"/api/devices/{device.id}/events"
    async with client.get(url) as response:
        newest = (await response.json())["items"]
    at = newest[1]["recordedAt"]
    for before in (at, str(parse_iso(at))):
        async with client.get(url, params={"before": before}) as response:
            assert response.status == 200
            assert [item["seq"] for item in (await response.json())["items"]] == [1, 0]


MALFORMED = [
    ("2026-11-29T17:09:49.123456Z~", "is not a page cursor: expected <ISO time>~<row id>"),
    ("2026-11-29T17:09:49.123456Z~abc", "is not a page cursor"),
    ("2026-11-29T17:09:49.123456Z~-4", "is not a page cursor"),
    ("2026-11-29T17:09:49.123456~4", "is not a page cursor"),
    ("2026-11-29 17:09:49.123456Z~4", "is not a page cursor"),
    ("2026-11-29T17:09:49.123456Z~4~5", "is not a page cursor"),
    ("1764436189.5~4", "is not a page cursor"),
    ("2026-13-29T17:09:49.123456Z~4", "not a valid date"),
    ("2026-11-29T17:09:49.123456+24:00~4", "not a valid date"),
    ("2026-11-29T17:09:49.123456Z~9223372036854775808", "row id is out of range"),
    ("2026-11-29T17:09:49.123456Z~\u0664", "must be ASCII"),
    ("2026-11-29T17:09:49." + "1" * 60 + "Z~4", f"at most {MAX_CURSOR_CHARS} characters"),
]


async def test_a_malformed_cursor_is_a_400_naming_the_problem(authed_hub, hub_client):
    # One hub for all the cases: each is a request, not a setup.
    device = await _device_with_events(authed_hub, 1)
    client = await hub_client(authed_hub, token="user-token")
    for before, says in MALFORMED:
        url = f"/api/devices/{device.id}/history"
        async with client.get(url, params={"before": before}) as response:
            assert response.status == 400, before
            error = (await response.json())["error"]
        assert error["code"] == "invalid_query"
        assert error["message"].startswith("before"), error
        assert says in error["message"], (before, error)


def test_the_cursor_carries_the_stored_time_exactly():
    """What nextBefore writes reads back as the very float the row holds, finer than the
    microsecond recordedAt shows; any UTC offset is read."""
    rng = random.Random(7)
    stamps = [BASE + k * ULP for k in range(-8, 9)] + [0.0, 1.5, 1e-5, 1_764_436_189.25]
    stamps += [1_764_436_189 + rng.random() * 1_000_000 for _ in range(2_000)]
    for stamp in stamps:
        text = PageCursor(stamp, 42).encode()
        assert text.isascii() and len(text) <= MAX_CURSOR_CHARS and "+" not in text
        assert PageCursor.parse(text) == PageCursor(stamp, 42), text
    assert PageCursor(1_764_436_189.25, 7).encode() == "2025-11-29T17:09:49.250000Z~7"
    assert PageCursor(BASE + ULP, 7).encode() == "2025-11-29T17:09:49.0000002Z~7"
    assert PageCursor.parse("2025-11-29T18:09:49.25+01:00~7") == PageCursor(1_764_436_189.25, 7)


@pytest.mark.postgres
async def test_the_cursor_matches_postgresql_rows_exactly(
    postgres_database, hub_factory, fakes, clock_readings
) -> None:
    """PostgreSQL stores recorded_at as double precision: the cursor's float compares
    equal to it, so rows sharing a time are paged once there too."""
    hub = await hub_factory(
        {"hub": {"database": {"url": postgres_database}}, "echo": {}}, integrations=fakes
    )
    device = await hub.devices.handshake("pg-batch", device_type="x", transport="echo")
    clock_readings(SHARED)
    for n in range(len(SHARED)):
        hub.devices.report_event(device, "pressed", None, seq=n)
    await hub.devices.flush()
    seen: list[int] = []
    cursor: PageCursor | None = None
    while True:
        items, cursor = await hub.devices.history.events_page(device.id, limit=2, before=cursor)
        seen.extend(item["seq"] for item in items)
        if cursor is None:
            break
        cursor = PageCursor.parse(cursor.encode())
    assert sorted(seen) == list(range(len(SHARED)))
    assert [SHARED[n] for n in seen] == sorted(SHARED, reverse=True)


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
