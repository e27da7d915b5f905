"""The peer beyond the spec's examples: calling, errors, limits, routing, heartbeat."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import voluptuous as vol

from plugins.cloud_link.jsonrpc import (
    BATCH_TOO_LARGE,
    FRAME_TOO_LARGE,
    HANDLER_TIMEOUT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_BUSY,
    CallTimeout,
    ConnectionClosed,
    InvalidParams,
    PeerLimits,
    RpcError,
)

WAIT = 5.0


def _no_methods(_name: str) -> Any:
    return None


async def _error_code(pair: Any, frame: Any) -> tuple[int, Any, Any]:
    await pair.cloud.send(frame)
    reply = orjson.loads(await pair.cloud_receive())
    return reply["error"]["code"], reply["id"], reply["error"].get("data")


# --- the station calling the cloud ------------------------------------------------------


async def test_call_matches_responses_by_id_whatever_their_order(rpc_pair) -> None:
    pair = await rpc_pair(_no_methods)
    first = asyncio.create_task(pair.station_peer.call("cloud.first", {"n": 1}))
    second = asyncio.create_task(pair.station_peer.call("cloud.second", [2]))
    requests = [await pair.cloud.next_json(), await pair.cloud.next_json()]
    by_method = {request["method"]: request for request in requests}
    assert by_method["cloud.first"]["params"] == {"n": 1}
    assert by_method["cloud.second"]["params"] == [2]
    assert by_method["cloud.first"]["id"] != by_method["cloud.second"]["id"]
    # Answer in the opposite order, as a batch, to show matching is by id only.
    await pair.cloud.send(
        [
            {"jsonrpc": "2.0", "result": "two", "id": by_method["cloud.second"]["id"]},
            {"jsonrpc": "2.0", "result": "one", "id": by_method["cloud.first"]["id"]},
        ]
    )
    assert await asyncio.wait_for(first, WAIT) == "one"
    assert await asyncio.wait_for(second, WAIT) == "two"
    assert pair.station_peer.pending_calls == 0


async def test_error_response_raises_rpc_error_with_code_and_data(rpc_pair) -> None:
    pair = await rpc_pair(_no_methods)
    call = asyncio.create_task(pair.station_peer.call("cloud.fails"))
    request = await pair.cloud.next_json()
    await pair.cloud.send(
        {
            "jsonrpc": "2.0",
            "error": {"code": 4001, "message": "Nope", "data": {"why": "test"}},
            "id": request["id"],
        }
    )
    with pytest.raises(RpcError) as caught:
        await asyncio.wait_for(call, WAIT)
    assert (caught.value.code, caught.value.message, caught.value.data) == (
        4001,
        "Nope",
        {"why": "test"},
    )


async def test_call_times_out_and_forgets_the_id(rpc_pair) -> None:
    pair = await rpc_pair(_no_methods)
    with pytest.raises(CallTimeout):
        await pair.station_peer.call("cloud.silent", within=0.05)
    assert pair.station_peer.pending_calls == 0
    request = await pair.cloud.next_json()
    # A late answer is dropped quietly: counted, never answered, never fatal.
    await pair.cloud.send({"jsonrpc": "2.0", "result": 1, "id": request["id"]})
    assert await pair.cloud.call("nothing.here") == {
        "jsonrpc": "2.0",
        "error": {
            "code": METHOD_NOT_FOUND,
            "message": "Method not found",
            "data": "no method named 'nothing.here'",
        },
        "id": 1000,
    }
    assert pair.station_peer.unmatched_responses == 1


async def test_pending_calls_fail_when_the_socket_closes(rpc_pair) -> None:
    pair = await rpc_pair(_no_methods)
    calls = [asyncio.create_task(pair.station_peer.call(f"cloud.m{n}")) for n in range(3)]
    for _ in calls:
        await pair.cloud.next_json()
    await pair.cloud.ws.close()
    for call in calls:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(call, WAIT)
    end = await asyncio.wait_for(pair.ended, WAIT)
    assert "closed" in end.reason
    with pytest.raises(ConnectionClosed):
        await pair.station_peer.call("cloud.after")
    with pytest.raises(ConnectionClosed):
        await pair.station_peer.notify("cloud.after")


async def test_call_many_sends_one_batch_and_returns_each_outcome(rpc_pair) -> None:
    pair = await rpc_pair(_no_methods)
    batch = asyncio.create_task(
        pair.station_peer.call_many([("a.ok", [1]), ("b.fails", None), ("c.ok", {"x": 1})])
    )
    frame = await pair.cloud.next_json()
    assert isinstance(frame, list) and [item["method"] for item in frame] == [
        "a.ok",
        "b.fails",
        "c.ok",
    ]
    assert "params" not in frame[1]
    await pair.cloud.send(
        [
            {"jsonrpc": "2.0", "result": "C", "id": frame[2]["id"]},
            {"jsonrpc": "2.0", "error": {"code": -1, "message": "bad"}, "id": frame[1]["id"]},
            {"jsonrpc": "2.0", "result": "A", "id": frame[0]["id"]},
        ]
    )
    outcomes = await asyncio.wait_for(batch, WAIT)
    assert outcomes[0] == "A" and outcomes[2] == "C"
    assert isinstance(outcomes[1], RpcError) and outcomes[1].code == -1


async def test_notify_and_notify_many_carry_no_id(rpc_pair) -> None:
    pair = await rpc_pair(_no_methods)
    await pair.station_peer.notify("device.state", {"deviceId": "d1"})
    await pair.station_peer.notify_many(
        [("device.event", {"type": "x"}), ("device.presence", None)]
    )
    assert await pair.cloud.next_json() == {
        "jsonrpc": "2.0",
        "method": "device.state",
        "params": {"deviceId": "d1"},
    }
    assert await pair.cloud.next_json() == [
        {"jsonrpc": "2.0", "method": "device.event", "params": {"type": "x"}},
        {"jsonrpc": "2.0", "method": "device.presence"},
    ]


async def test_a_handler_may_call_back_while_serving(rpc_pair) -> None:
    async def ask_back(params: Any, context: Any) -> Any:
        answer = await context.peer.call("cloud.whoami")
        return {"cloud said": answer, "source": context.source}

    pair = await rpc_pair({"station.ask": ask_back}.get)
    await pair.cloud.send({"jsonrpc": "2.0", "method": "station.ask", "id": "q"})
    callback = await pair.cloud.next_json()
    assert callback["method"] == "cloud.whoami"
    await pair.cloud.send({"jsonrpc": "2.0", "result": "the cloud", "id": callback["id"]})
    assert await pair.cloud.response_to("q") == {
        "jsonrpc": "2.0",
        "result": {"cloud said": "the cloud", "source": "cloud"},
        "id": "q",
    }


# --- errors the station answers with ------------------------------------------------


def _strict(params: Any, _context: Any) -> Any:
    return vol.Schema({vol.Required("deviceId"): str})(params)


def _explicit(params: Any, _context: Any) -> Any:
    raise InvalidParams("count must be positive")


def _broken(params: Any, _context: Any) -> Any:
    raise KeyError("secret internals")


async def _slow(params: Any, _context: Any) -> Any:
    await asyncio.Event().wait()


def _not_json(params: Any, _context: Any) -> Any:
    return {"value": object()}


def _app_error(params: Any, _context: Any) -> Any:
    raise RpcError(1001, "Device not found", data="no device d9")


METHODS = {
    "strict": _strict,
    "explicit": _explicit,
    "broken": _broken,
    "slow": _slow,
    "not_json": _not_json,
    "app_error": _app_error,
}


@pytest.mark.parametrize(
    ("method", "params", "code", "data_mentions"),
    [
        ("strict", {"deviceId": 5}, INVALID_PARAMS, "deviceId"),
        ("strict", {}, INVALID_PARAMS, "deviceId"),
        ("explicit", [], INVALID_PARAMS, "count must be positive"),
        ("broken", None, INTERNAL_ERROR, "logged"),
        ("not_json", None, INTERNAL_ERROR, None),
        ("app_error", None, 1001, "no device d9"),
        ("rpc.discover", None, METHOD_NOT_FOUND, "rpc.discover"),
    ],
)
async def test_handler_failures_map_to_error_codes(
    rpc_pair, method: str, params: Any, code: int, data_mentions: str | None
) -> None:
    pair = await rpc_pair(METHODS.get)
    reply = await pair.cloud.call(method, params)
    assert reply["error"]["code"] == code
    if data_mentions:
        assert data_mentions in reply["error"]["data"]
    assert "secret internals" not in orjson.dumps(reply).decode()
    # The station keeps serving after any failure.
    assert (await pair.cloud.call("strict", {"deviceId": "d1"}))["result"] == {"deviceId": "d1"}


async def test_slow_handler_is_cut_off_with_a_server_error(rpc_pair) -> None:
    pair = await rpc_pair(METHODS.get, limits=PeerLimits(handler_timeout=0.05))
    reply = await pair.cloud.call("slow")
    assert reply["error"]["code"] == HANDLER_TIMEOUT
    assert "slow" in reply["error"]["data"]


async def test_too_many_requests_in_flight_answer_server_busy(rpc_pair) -> None:
    pair = await rpc_pair(METHODS.get, limits=PeerLimits(max_in_flight=1))
    await pair.cloud.send({"jsonrpc": "2.0", "method": "slow", "id": "a"})
    reply = await pair.cloud.call("strict", {"deviceId": "d1"})
    assert reply["error"]["code"] == SERVER_BUSY
    pair.session.stop("done")


async def test_batch_over_the_limit_is_refused_as_a_whole(rpc_pair) -> None:
    pair = await rpc_pair(METHODS.get, limits=PeerLimits(max_batch=2))
    code, request_id, data = await _error_code(
        pair, [{"jsonrpc": "2.0", "method": "strict", "id": n} for n in range(3)]
    )
    assert (code, request_id) == (BATCH_TOO_LARGE, None)
    assert "3" in data and "2" in data


@pytest.mark.parametrize(
    ("frame", "code", "expected_id"),
    [
        (b"\xff\xfe not utf-8", PARSE_ERROR, None),
        (
            '{"jsonrpc": "2.0", "method": "strict", "params": {"x": NaN}, "id": 1}',
            PARSE_ERROR,
            None,
        ),
        ("[" * 40 + "]" * 40, PARSE_ERROR, None),
        ("", PARSE_ERROR, None),
        ('"just a string"', INVALID_REQUEST, None),
        ("42", INVALID_REQUEST, None),
        ('{"jsonrpc": "1.0", "method": "strict", "id": 7}', INVALID_REQUEST, 7),
        ('{"jsonrpc": "2.0", "method": "strict", "id": true}', INVALID_REQUEST, None),
        ('{"jsonrpc": "2.0", "method": "strict", "id": {"a": 1}}', INVALID_REQUEST, None),
        ('{"jsonrpc": "2.0", "method": "strict", "params": 3, "id": "p"}', INVALID_REQUEST, "p"),
        ('{"jsonrpc": "2.0", "id": 9}', INVALID_REQUEST, 9),
        ('{"no": "type, no jsonrpc"}', INVALID_REQUEST, None),
    ],
)
async def test_malformed_frames_are_answered_and_never_fatal(
    rpc_pair, frame: Any, code: int, expected_id: Any
) -> None:
    pair = await rpc_pair(METHODS.get)
    if isinstance(frame, bytes):
        await pair.cloud.ws.send_bytes(frame)
    else:
        await pair.cloud.send(frame)
    reply = orjson.loads(await pair.cloud_receive())
    assert (reply["error"]["code"], reply["id"]) == (code, expected_id)
    assert isinstance(reply["error"].get("data"), str) and reply["error"]["data"]
    assert (await pair.cloud.call("strict", {"deviceId": "still"}))["result"] == {
        "deviceId": "still"
    }


async def test_null_id_is_a_request_and_gets_a_null_id_reply(rpc_pair) -> None:
    pair = await rpc_pair(METHODS.get)
    await pair.cloud.send(
        {"jsonrpc": "2.0", "method": "strict", "params": {"deviceId": "n"}, "id": None}
    )
    assert await pair.cloud.next_json() == {
        "jsonrpc": "2.0",
        "result": {"deviceId": "n"},
        "id": None,
    }


async def test_oversized_frame_is_answered_and_the_link_stays(rpc_pair) -> None:
    pair = await rpc_pair(METHODS.get, max_frame_bytes=2048)
    big = orjson.dumps(
        {"jsonrpc": "2.0", "method": "strict", "params": {"deviceId": "x" * 3000}, "id": 1}
    ).decode()
    code, request_id, data = await _error_code(pair, big)
    assert (code, request_id) == (FRAME_TOO_LARGE, None)
    assert "2048" in data
    assert (await pair.cloud.call("strict", {"deviceId": "ok"}))["result"] == {"deviceId": "ok"}


async def test_frame_beyond_the_hard_cap_ends_the_session(rpc_pair) -> None:
    pair = await rpc_pair(METHODS.get, max_frame_bytes=1024)
    await pair.cloud.send("x" * (1024 * 5))
    end = await asyncio.wait_for(pair.ended, WAIT)
    assert not end.auth_rejected
    assert pair.station_peer.closed


# --- routing by kind ------------------------------------------------------------------


async def test_legacy_frames_go_to_the_legacy_handler_not_the_peer(rpc_pair) -> None:
    pair = await rpc_pair(METHODS.get)
    await pair.cloud.send({"type": "station_renamed", "name": "North"})
    await pair.cloud.send({"type": "member_removed", "cloudUserId": "u1", "jsonrpc": "2.0"})
    reply = await pair.cloud.next_json()
    # "type" with "jsonrpc" is JSON-RPC (and invalid: no method); without it, legacy.
    assert reply["error"]["code"] == INVALID_REQUEST
    assert pair.legacy == [{"type": "station_renamed", "name": "North"}]


async def test_auth_failed_during_a_session_ends_it_as_rejected(rpc_pair) -> None:
    pair = await rpc_pair(METHODS.get)
    await pair.cloud.send({"type": "auth_failed", "reason": "token revoked"})
    end = await asyncio.wait_for(pair.ended, WAIT)
    assert end.auth_rejected and "token revoked" in end.reason


# --- heartbeat ------------------------------------------------------------------------


async def test_heartbeat_keeps_a_responsive_cloud(rpc_pair, fake_cloud) -> None:
    # A pong must be back within one interval: wider than a busy box's stalls.
    pair = await rpc_pair(METHODS.get, heartbeat_interval=0.25)
    async with asyncio.timeout(WAIT):
        while pair.cloud.pings_seen < 4:
            await pair.cloud.call("strict", {"deviceId": "beat"})
    assert not pair.ended.done()


async def test_no_pong_by_the_next_heartbeat_terminates(rpc_pair, fake_cloud) -> None:
    fake_cloud.answer_pings = False
    pair = await rpc_pair(METHODS.get, heartbeat_interval=0.05)
    started = asyncio.get_running_loop().time()
    end = await asyncio.wait_for(pair.ended, WAIT)
    elapsed = asyncio.get_running_loop().time() - started
    assert "no pong" in end.reason
    assert pair.cloud.pings_seen == 1
    # One interval to send the ping, one to notice no pong: one ping seen proves it ended
    # at the first missing pong (wait_for bounds it; a busy box stalls for seconds, so
    # the clock gives only the lower bound).
    assert elapsed >= 0.05
