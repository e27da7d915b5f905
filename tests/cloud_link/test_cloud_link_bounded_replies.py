"""Small requests may not buy big replies: paged snapshots, a byte cap on every reply frame.

A 5 KB batch of 100 ``devices.snapshot`` calls once made the station build a 273 MB reply.
Everything here runs over a real socket to the cloud double.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import orjson

from hub.devices.paging import MAX_PAGE_SIZE
from plugins.cloud_link.jsonrpc import (
    BATCH_TOO_LARGE,
    INVALID_PARAMS,
    PARSE_ERROR,
    REPLY_TOO_LARGE,
)
from plugins.cloud_link.jsonrpc.peer import SMALL_REPLY_BYTES, PeerLimits
from tests.cloud_link.conftest import WAIT
from tests.core.fleet import add_fleet


async def test_a_snapshot_of_ten_thousand_devices_comes_in_pages(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    await add_fleet(hub, 10_000)

    seen: list[str] = []
    cursor: str | None = None
    frames = 0
    while True:
        params: dict[str, Any] = {} if cursor is None else {"cursor": cursor}
        request_id = 10_000 + frames
        await cloud.send(
            {"jsonrpc": "2.0", "method": "devices.snapshot", "params": params, "id": request_id}
        )
        text = await cloud.next_text()
        assert len(text) <= 1024 * 1024  # the default max_reply_bytes
        reply = orjson.loads(text)
        assert reply["id"] == request_id
        page = reply["result"]["devices"]
        assert 0 < len(page) <= MAX_PAGE_SIZE
        seen.extend(device["id"] for device in page)
        frames += 1
        cursor = reply["result"]["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 10_000
    assert frames >= 10

    small = await cloud.call("devices.snapshot", {"limit": 3})
    assert len(small["result"]["devices"]) == 3
    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": True}, {"cursor": 5}, ["x"]):
        answer = await cloud.call("devices.snapshot", bad)
        assert answer["error"]["code"] == INVALID_PARAMS, bad


async def test_a_batch_of_snapshots_gets_a_bounded_reply(cloud_hub, fake_cloud) -> None:
    limit = 256 * 1024
    hub = await cloud_hub(max_reply_bytes=limit)
    cloud = await fake_cloud.next_connection()
    await add_fleet(hub, 2000, state_bytes=200)  # ~1 MB for every device at once

    batch = [{"jsonrpc": "2.0", "method": "devices.snapshot", "id": index} for index in range(20)]
    batch.append({"jsonrpc": "2.0", "method": "device_types.list", "id": "small"})
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        await cloud.send(batch)
        text = await cloud.next_text()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # Each refused result is dropped as soon as it is encoded: memory stays a few times the
    # reply limit, where 20 whole snapshots of this fleet were ~20 MB held at once.
    assert peak < 8 * limit, peak
    # Everything that fits, and a small error for each answer that did not.
    assert len(text) <= limit + len(batch) * SMALL_REPLY_BYTES
    replies = {item["id"]: item for item in orjson.loads(text)}
    assert set(replies) == {*range(20), "small"}
    answered = [item for item in replies.values() if "result" in item]
    refused = [item for item in replies.values() if "error" in item]
    assert "result" in replies["small"]  # small answers always go through
    assert 2 <= len(answered) < 20 and refused
    for item in refused:
        assert item["error"]["code"] == REPLY_TOO_LARGE
        assert item["error"]["message"] == "Reply too large"
        assert "devices.snapshot" in item["error"]["data"]
    # The link is fine afterwards, and a page that fits still comes back.
    reply = await cloud.call("devices.snapshot", {"limit": 10})
    assert len(reply["result"]["devices"]) == 10


async def test_batch_size_is_capped(cloud_hub, fake_cloud) -> None:
    await cloud_hub(max_batch=5)
    cloud = await fake_cloud.next_connection()
    batch = [{"jsonrpc": "2.0", "method": "device_types.list", "id": index} for index in range(6)]
    await cloud.send(batch)
    reply = await cloud.next_json()
    assert reply["error"]["code"] == BATCH_TOO_LARGE and reply["id"] is None


async def test_the_peer_caps_any_method_s_reply(rpc_pair) -> None:
    """A registered method's huge result is refused too, single or in a batch."""

    def big(params: Any, _context: Any) -> str:
        return "x" * params["size"]

    def small(_params: Any, _context: Any) -> dict[str, str]:
        return {"ok": "yes"}

    methods = {"big": big, "small": small}
    pair = await rpc_pair(
        methods.get, max_frame_bytes=4 * 1024 * 1024, limits=PeerLimits(max_reply_bytes=100_000)
    )
    cloud = pair.cloud

    single = await cloud.call("big", {"size": 150_000})
    assert single["error"]["code"] == REPLY_TOO_LARGE
    assert "150" in single["error"]["data"] and "100000" in single["error"]["data"]
    assert "result" in await cloud.call("big", {"size": 90_000})

    await cloud.send(
        [
            {"jsonrpc": "2.0", "method": "big", "params": {"size": 60_000}, "id": 1},
            {"jsonrpc": "2.0", "method": "big", "params": {"size": 60_000}, "id": 2},
            {"jsonrpc": "2.0", "method": "small", "id": 3},
            {"jsonrpc": "2.0", "method": "big", "params": {"size": 60_000}},  # notification
        ]
    )
    text = await asyncio.wait_for(cloud.next_text(), WAIT)
    assert len(text) < 100_000 + 3 * SMALL_REPLY_BYTES
    replies = {item["id"]: item for item in orjson.loads(text)}
    assert set(replies) == {1, 2, 3}
    assert sorted("result" in replies[index] for index in (1, 2)) == [False, True]
    assert replies[3]["result"] == {"ok": "yes"}


async def test_a_nul_in_a_frame_is_a_parse_error(cloud_hub, fake_cloud) -> None:
    """The station stores what the cloud sends (command params, member names); a NUL
    would fail on PostgreSQL, so the frame is refused as it is read."""
    await cloud_hub()
    cloud = await fake_cloud.next_connection()
    await cloud.send(
        '{"jsonrpc": "2.0", "method": "device.command", "id": 1,'
        ' "params": {"deviceId": "lamp-1", "command": "say", "params": {"t": "a\\u0000"}}}'
    )
    reply = await cloud.next_json()
    assert reply["error"]["code"] == PARSE_ERROR and reply["id"] is None
    assert "NUL" in reply["error"]["data"]
    assert "result" in await cloud.call("device_types.list")
