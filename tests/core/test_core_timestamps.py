"""Every time in the API is ISO 8601 UTC, and what the API writes it reads back."""

from __future__ import annotations

import random

import pytest

from hub.timestamps import iso, parse_iso


def test_iso_is_utc_with_microseconds_and_offset():
    assert iso(0) == "1970-01-01T00:00:00.000000+00:00"
    assert iso(1764436189.25) == "2025-11-29T17:09:49.250000+00:00"
    assert iso(None) is None


def test_round_trip_never_moves_later():
    # Truncation, not rounding: a "before this row" cursor never repeats the row.
    for stamp in (1764436189.1234567, 1764436189.9999999, 1.0000005):
        text = iso(stamp)
        assert text is not None
        assert parse_iso(text) <= stamp
        assert stamp - parse_iso(text) < 1e-6 + 1e-9


def test_round_trip_never_moves_later_across_many_clock_readings():
    # Float products near a whole microsecond round up; a cursor built from such a time
    # repeated its row (seen in paging). Bounded: 200,000 deterministic readings.
    rng = random.Random(11)
    for _ in range(200_000):
        stamp = 1_764_436_189 + rng.random() * 1_000_000
        text = iso(stamp)
        assert text is not None
        assert parse_iso(text) <= stamp


def test_parse_accepts_offsets_and_refuses_naive_or_junk():
    assert parse_iso("1970-01-01T01:00:00+01:00") == 0
    assert parse_iso("1970-01-01T00:00:01Z") == 1
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_iso("2026-11-29T17:09:49")
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_iso("yesterday")


async def test_history_speaks_iso_and_pages_with_it(authed_hub, hub_client):
    hub = authed_hub
    device = await hub.devices.handshake("ts-1", device_type="x", transport="echo")
    for n in range(3):
        hub.devices.report_state(device, {"n": n})
    await hub.devices._writer.flush()
    client = await hub_client(hub, token="user-token")
    url = f"/api/devices/{device.id}/history"
    async with client.get(url, params={"limit": "2"}) as response:
        page = await response.json()
    assert [item["state"]["n"] for item in page["items"]] == [2, 1]
    assert all(item["recordedAt"].endswith("+00:00") for item in page["items"])
    # nextBefore is a cursor, <time>~<row id>, that starts with the last entry's time.
    assert page["nextBefore"].startswith(page["items"][-1]["recordedAt"][:19])
    async with client.get(url, params={"before": page["nextBefore"]}) as response:
        rest = await response.json()
    assert [item["state"]["n"] for item in rest["items"]] == [0]
    async with client.get(url, params={"before": "2026-11-29T17:09:49"}) as response:
        assert response.status == 400
        assert "UTC offset" in (await response.json())["error"]["message"]
