"""The WebSocket API, frame by frame, against a real hub on loopback (docs/websocket-api.md).

Each command, each error frame, the entity mapping, coalescing under load and the quiet
end of a client that leaves during the auth phase. The real Home Assistant client
libraries are driven in tests/websocket_clients/.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, cast

import aiohttp
import pytest

from hub import __version__, events
from hub.auth import Principal
from hub.events import EventType
from hub.http.websocket import commands as ws_commands
from hub.http.websocket import connection as ws_connection
from hub.http.websocket import permissions
from hub.http.websocket.messages import HA_VERSION
from tests.core.fake_integrations import echo

WAIT = 5.0


class HaSocket:
    """A minimal HA-protocol client: numbered commands, coalesced frames unpacked."""

    def __init__(self, session: aiohttp.ClientSession, socket: aiohttp.ClientWebSocketResponse):
        self.session = session
        self.socket = socket
        self.next_id = 1
        self.frames = 0  # WebSocket frames received, a coalesced array counting once
        self.arrays = 0
        self._pending: list[dict[str, Any]] = []

    async def send(self, kind: str, **fields: Any) -> int:
        message_id = self.next_id
        self.next_id += 1
        await self.socket.send_json({"id": message_id, "type": kind, **fields})
        return message_id

    async def receive(self) -> dict[str, Any]:
        if not self._pending:
            data = await self.socket.receive_json(timeout=WAIT)
            self.frames += 1
            if isinstance(data, list):
                self.arrays += 1
                self._pending.extend(data)
            else:
                self._pending.append(data)
        return self._pending.pop(0)

    async def command(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a command and return its result frame (skipping events in between)."""
        message_id = await self.send(kind, **fields)
        while True:
            message = await self.receive()
            if message["id"] == message_id and message["type"] in ("result", "pong"):
                return message

    async def event(self, subscription: int) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message["id"] == subscription and message["type"] == "event":
                return message["event"]

    async def close(self) -> None:
        await self.socket.close()
        await self.session.close()


async def open_raw(hub) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    session = aiohttp.ClientSession()
    socket = await session.ws_connect(f"{hub.http_url}/api/websocket")
    return session, socket


async def connect(hub, token: str = "user-token") -> HaSocket:
    session, socket = await open_raw(hub)
    required = await socket.receive_json(timeout=WAIT)
    assert required == {
        "type": "auth_required",
        "ha_version": HA_VERSION,
        "hub_version": __version__,
    }
    await socket.send_json({"type": "auth", "access_token": token})
    ok = await socket.receive_json(timeout=WAIT)
    assert ok == {"type": "auth_ok", "ha_version": HA_VERSION, "hub_version": __version__}
    return HaSocket(session, socket)


@pytest.fixture
async def client(authed_hub):
    socket = await connect(authed_hub)
    yield socket
    await socket.close()


@pytest.fixture
async def owner(authed_hub):
    """A client signed in as the owner, who may subscribe to every event (not a ``user``)."""
    socket = await connect(authed_hub, "owner-token")
    yield socket
    await socket.close()


def assert_envelope(event: dict[str, Any], event_type: EventType[Any] | str) -> None:
    assert set(event) == {"event_type", "data", "origin", "time_fired", "context"}
    assert event["event_type"] == event_type
    assert event["origin"] == "LOCAL"
    offset = datetime.fromisoformat(event["time_fired"]).utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert set(event["context"]) == {"id", "parent_id", "user_id"}
    assert len(event["context"]["id"]) == 26  # a ULID, as HA's context ids


# ---- auth phase ------------------------------------------------------------------------


def test_the_ha_version_passes_the_version_checks_of_the_js_client():
    major, minor, _patch = (int(part) for part in HA_VERSION.split("."))
    assert (major, minor) >= (2022, 9)  # supported_features, subscribe_entities


async def test_bad_token_is_refused_and_closed(authed_hub):
    session, socket = await open_raw(authed_hub)
    async with session:
        await socket.receive_json(timeout=WAIT)
        await socket.send_json({"type": "auth", "access_token": "wrong"})
        reply = await socket.receive_json(timeout=WAIT)
        assert reply["type"] == "auth_invalid" and reply["message"]
        closing = await socket.receive(timeout=WAIT)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_commands_before_auth_are_refused(authed_hub):
    session, socket = await open_raw(authed_hub)
    async with session:
        await socket.receive_json(timeout=WAIT)
        await socket.send_json({"id": 1, "type": "subscribe_events"})
        assert (await socket.receive_json(timeout=WAIT))["type"] == "auth_invalid"


async def test_without_a_user_scheme_the_socket_fails_closed(hub_factory, fakes):
    hub = await hub_factory({"echo": {}}, integrations=fakes)
    session, socket = await open_raw(hub)
    async with session:
        await socket.receive_json(timeout=WAIT)
        await socket.send_json({"type": "auth", "access_token": "anything"})
        reply = await socket.receive_json(timeout=WAIT)
        assert reply["type"] == "auth_invalid"
        assert "no running integration" in reply["message"]


class _Recorder(logging.Handler):
    """Keeps every record; wakes the test at the auth phase's word on the client leaving,
    or at anything louder than debug (the traceback this test is about)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.left = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if record.name == "hub.http.websocket.session" or record.levelno >= logging.WARNING:
            self.left.set()


@pytest.mark.parametrize("when", ["before-reading", "after-auth_required"])
async def test_a_client_that_closes_during_the_auth_phase_leaves_no_error(authed_hub, when):
    recorder = _Recorder()
    root = logging.getLogger()
    session_logger = logging.getLogger("hub.http.websocket.session")
    old_level = session_logger.level
    session_logger.setLevel(logging.DEBUG)
    root.addHandler(recorder)
    try:
        session, socket = await open_raw(authed_hub)
        async with session:
            if when == "after-auth_required":
                await socket.receive_json(timeout=WAIT)
            await socket.close()
        await asyncio.wait_for(recorder.left.wait(), WAIT)
        # The request handler has returned once the hub has no socket left open.
        await authed_hub.bus.drain()
    finally:
        root.removeHandler(recorder)
        session_logger.setLevel(old_level)
    loud = [record for record in recorder.records if record.levelno >= logging.WARNING]
    assert loud == [], [record.getMessage() for record in loud]
    assert not any(record.exc_info for record in recorder.records)


# ---- frames and errors -----------------------------------------------------------------


async def test_ping_and_the_error_frames(client):
    assert await client.command("ping") == {"id": 1, "type": "pong"}
    reply = await client.command("fly")
    assert reply == {
        "id": 2,
        "type": "result",
        "success": False,
        "error": {"code": "unknown_command", "message": "Unknown command: fly."},
    }
    socket = client.socket
    for bad in ("{not json", "[1, 2]", '{"type": "ping"}', '{"id": 0, "type": "ping"}'):
        await socket.send_str(bad)
        reply = await client.receive()
        assert reply["success"] is False and reply["error"]["code"] == "invalid_format", bad
    await socket.send_json({"id": True, "type": "ping"})
    assert (await client.receive())["error"]["code"] == "invalid_format"
    await socket.send_json({"id": 9, "type": 5})
    assert (await client.receive())["error"]["code"] == "invalid_format"
    await socket.send_bytes(b"\x00")
    assert (await client.receive())["error"]["code"] == "invalid_format"
    await socket.send_json({"id": 2, "type": "ping"})  # ids must increase, as in HA
    reply = await client.receive()
    assert reply["id"] == 2 and reply["error"]["code"] == "id_reuse"
    client.next_id = 10
    assert (await client.command("ping"))["type"] == "pong"  # alive after bad input


async def test_supported_features_is_acknowledged(client):
    assert await client.command("supported_features", features={"coalesce_messages": 1}) == {
        "id": 1,
        "type": "result",
        "success": True,
        "result": None,
    }
    reply = await client.command("supported_features", features=[])
    assert reply["error"]["code"] == "invalid_format"


# ---- events --------------------------------------------------------------------------


async def test_subscribe_events_sends_the_ha_envelope_then_unsubscribe(authed_hub, client):
    subscription = await client.send("subscribe_events", event_type=events.DEVICE_STATE_CHANGED)
    assert (await client.receive())["success"] is True
    device = await authed_hub.devices.handshake("ws-1", device_type="x", transport="echo")
    authed_hub.bus.fire("unrelated", {})
    authed_hub.devices.report_state(device, {"v": 1})

    event = await client.event(subscription)
    assert_envelope(event, events.DEVICE_STATE_CHANGED)
    assert event["data"]["state"] == {"v": 1}
    assert event["data"]["externalId"] == "ws-1"

    reply = await client.command("unsubscribe_events", subscription=subscription)
    assert reply["success"] is True
    authed_hub.devices.report_state(device, {"v": 2})
    assert (await client.command("ping"))["type"] == "pong"
    assert client._pending == []  # no event came in between
    reply = await client.command("unsubscribe_events", subscription=subscription)
    assert reply["error"] == {"code": "not_found", "message": "Subscription not found."}


async def test_every_hub_event_flows_to_a_subscriber_of_everything(authed_hub, owner) -> None:
    client = owner
    subscription = await client.send("subscribe_events")
    assert (await client.receive())["success"] is True
    device = await authed_hub.devices.handshake("ws-all", device_type="x", transport="echo")
    authed_hub.devices.report_state(device, {"v": 1})
    authed_hub.devices.report_event(device, "button", {"n": 1}, seq=1)
    await authed_hub.devices.send_command(device.id, "toggle")
    authed_hub.devices.set_offline(device)
    wanted = {
        events.DEVICE_REGISTERED,
        events.DEVICE_PRESENCE_CHANGED,
        events.DEVICE_STATE_CHANGED,
        events.DEVICE_EVENT,
        events.COMMAND_STATUS_CHANGED,
        "state_changed",
    }
    seen: set[str] = set()
    while not wanted <= seen:
        event = await client.event(subscription)
        assert_envelope(event, event["event_type"])
        seen.add(event["event_type"])
    reply = await client.command("subscribe_events", event_type=events.SESSIONS_REVOKED)
    assert reply["error"]["code"] == "unauthorized"
    reply = await client.command("subscribe_events", event_type="")
    assert reply["error"]["code"] == "invalid_format"


# ---- who may subscribe to what (HA's allow-list for non-admins) ------------------------

# Types a plain user is refused: an integration's audit trail, an automation's trace, an
# automation's own event, every event.
NOT_FOR_USERS = ("device_provisioned", "automation_run_finished", "my_custom_event", "*")


async def test_a_user_is_refused_what_is_not_allow_listed_and_gets_what_is(authed_hub, client):
    for event_type in NOT_FOR_USERS:
        reply = await client.command("subscribe_events", event_type=event_type)
        assert reply["success"] is False
        assert reply["error"]["code"] == "unauthorized", event_type
    reply = await client.command("subscribe_events")  # no type is "*", as in HA
    assert reply["error"]["code"] == "unauthorized"
    assert "owners and admins" in reply["error"]["message"]

    subscription = await client.send("subscribe_events", event_type=events.DEVICE_PRESENCE_CHANGED)
    assert (await client.receive())["success"] is True
    for event_type in NOT_FOR_USERS[:-1]:
        authed_hub.bus.fire(event_type, {"secret": True})
    device = await authed_hub.devices.handshake("ws-user", device_type="x", transport="echo")
    authed_hub.devices.set_offline(device)

    ping = await client.send("ping")
    received = []
    while (message := await client.receive())["id"] != ping:
        received.append(message)
    # The refused subscriptions left nothing behind: only the allowed one sent anything.
    assert received and {message["id"] for message in received} == {subscription}
    last = received[-1]["event"]  # online at the handshake, then this
    assert_envelope(last, events.DEVICE_PRESENCE_CHANGED)
    assert (last["data"]["externalId"], last["data"]["online"]) == ("ws-user", False)


async def test_an_owner_gets_every_event_but_the_private_ones(authed_hub, owner):
    for event_type in NOT_FOR_USERS[:-1]:
        reply = await owner.command("subscribe_events", event_type=event_type)
        assert reply["success"] is True, event_type
    reply = await owner.command("subscribe_events", event_type=events.SESSIONS_REVOKED)
    assert reply["error"]["code"] == "unauthorized"

    everything = await owner.send("subscribe_events")
    assert (await owner.receive())["success"] is True
    authed_hub.bus.fire(events.SESSIONS_REVOKED, {"kind": "user", "id": "x", "reason": "test"})
    authed_hub.bus.fire("my_custom_event", {"n": 1})
    while (event := await owner.event(everything))["event_type"] != "my_custom_event":
        assert event["event_type"] != events.SESSIONS_REVOKED
    assert event["data"] == {"n": 1}


@pytest.mark.parametrize(
    ("principal", "admin"),
    [
        (Principal("user", "u1", role="owner"), True),
        (Principal("user", "u2", role="admin", extra={"via": "api_token"}), True),
        (Principal("user", "u3", role="user", extra={"via": "api_token"}), False),
        (Principal("user", "u4"), False),  # no known role: not an admin
        (Principal("agent", "agent", role="admin"), False),  # only users hold roles
        (Principal("device", "d1", role="owner"), False),
    ],
)
def test_only_an_owner_or_admin_user_sees_past_the_allow_list(principal, admin):
    assert permissions.is_admin(principal) is admin
    assert permissions.may_subscribe(principal, "*") is admin
    # cast: may_subscribe (hub code) takes str; an EventType is one at runtime.
    assert permissions.may_subscribe(principal, cast(str, events.DEVICE_STATE_CHANGED))
    assert not permissions.may_subscribe(principal, cast(str, events.SESSIONS_REVOKED))


def test_every_core_event_is_either_allow_listed_or_private():
    """A new core event must be placed on one side of the rule on purpose."""
    core = {value for value in vars(events).values() if isinstance(value, events.EventType)}
    assert core == permissions.HUB_ALLOWLIST - {"state_changed"} | permissions.PRIVATE_EVENTS
    assert not permissions.SUBSCRIBE_ALLOWLIST & permissions.PRIVATE_EVENTS


async def test_state_changed_carries_the_old_and_new_entity(authed_hub, client):
    device = await authed_hub.devices.handshake("lamp-1", device_type="x", transport="echo")
    subscription = await client.send("subscribe_events", event_type="state_changed")
    assert (await client.receive())["success"] is True
    authed_hub.devices.report_state(device, {"on": True})

    event = await client.event(subscription)
    assert_envelope(event, "state_changed")
    data = event["data"]
    assert data["entity_id"] == "station_hub.lamp_1"
    assert data["old_state"]["state"] == "unknown" and data["new_state"]["state"] == "on"
    assert event["context"] == data["new_state"]["context"]


# ---- entities ------------------------------------------------------------------------


async def test_get_states_maps_each_handshaken_device_to_an_entity(authed_hub, client):
    devices = authed_hub.devices
    lamp = await devices.handshake("Lamp-1", device_type="lamp", transport="echo", firmware="1.2")
    meter = await devices.handshake("meter", device_type="meter", transport="echo")
    twin = await devices.handshake("lamp_1", device_type="lamp", transport="echo")
    gone = await devices.handshake("gone", device_type="x", transport="echo")
    await devices.expect_device("pending-1", token_digest="d" * 64)
    devices.report_state(lamp, {"on": False, "brightness": 10})
    devices.report_state(meter, {"temperature": 21.5})
    devices.report_state(twin, {"state": "heating", "friendly_name": "not this"})
    devices.set_offline(gone)

    states = {item["entity_id"]: item for item in (await client.command("get_states"))["result"]}

    assert set(states) == {
        "station_hub.lamp_1",
        f"station_hub.lamp_1_{twin.id[:8]}",  # the later device of a shared slug
        "station_hub.meter",
        "station_hub.gone",
    }
    first = states["station_hub.lamp_1"]
    assert first["state"] == "off"
    assert first["attributes"] == {
        "on": False,
        "brightness": 10,
        "friendly_name": "Lamp-1",
        "device_id": lamp.id,
        "external_id": "Lamp-1",
        "device_type": "lamp",
        "firmware": "1.2",
        "transport": "echo",
        "capabilities": [],
    }
    assert set(first) == {
        "entity_id",
        "state",
        "attributes",
        "last_changed",
        "last_reported",
        "last_updated",
        "context",
    }
    for key in ("last_changed", "last_updated", "last_reported"):
        offset = datetime.fromisoformat(first[key]).utcoffset()
        assert offset is not None
        assert offset.total_seconds() == 0
    assert states["station_hub.meter"]["state"] == "online"
    twin_state = states[f"station_hub.lamp_1_{twin.id[:8]}"]
    assert twin_state["state"] == "heating"
    assert twin_state["attributes"]["friendly_name"] == "lamp_1"  # the hub's facts win
    assert states["station_hub.gone"]["state"] == "unavailable"


async def test_subscribe_entities_sends_all_then_compressed_diffs(authed_hub, client):
    devices = authed_hub.devices
    lamp = await devices.handshake("lamp", device_type="lamp", transport="echo")
    devices.report_state(lamp, {"on": True, "brightness": 10, "colour": "red"})
    subscription = await client.send("subscribe_entities")
    assert (await client.receive())["result"] is None

    initial = await client.event(subscription)
    compressed = initial["a"]["station_hub.lamp"]
    assert compressed["s"] == "on"
    assert compressed["a"]["brightness"] == 10
    assert isinstance(compressed["c"], str) and isinstance(compressed["lc"], float)
    assert "lu" not in compressed or compressed["lu"] > compressed["lc"]

    devices.report_state(lamp, {"on": True, "brightness": 20})  # attributes only
    diff = (await client.event(subscription))["c"]["station_hub.lamp"]
    assert diff["+"]["a"] == {"brightness": 20}
    assert diff["-"] == {"a": ["colour"]}
    assert "s" not in diff["+"] and "lu" in diff["+"] and "lc" not in diff["+"]

    devices.set_offline(lamp)
    diff = (await client.event(subscription))["c"]["station_hub.lamp"]
    assert diff["+"]["s"] == "unavailable" and "lc" in diff["+"]

    await devices.rename(lamp.id, "Hall lamp")
    diff = (await client.event(subscription))["c"]["station_hub.lamp"]
    assert diff["+"]["a"] == {"friendly_name": "Hall lamp"}

    other = await devices.handshake("other", device_type="x", transport="echo")
    added = await client.event(subscription)
    assert added["a"]["station_hub.other"]["s"] == "unknown"

    await devices.remove(other.id)
    assert (await client.event(subscription)) == {"r": ["station_hub.other"]}


async def test_subscribe_entities_can_watch_some_entities_only(authed_hub, client):
    devices = authed_hub.devices
    one = await devices.handshake("one", device_type="x", transport="echo")
    two = await devices.handshake("two", device_type="x", transport="echo")
    subscription = await client.send("subscribe_entities", entity_ids=["station_hub.two"])
    assert (await client.receive())["success"] is True
    assert set((await client.event(subscription))["a"]) == {"station_hub.two"}
    devices.report_state(one, {"v": 1})
    devices.report_state(two, {"v": 2})
    changed = await client.event(subscription)
    assert set(changed["c"]) == {"station_hub.two"}
    reply = await client.command("subscribe_entities", entity_ids="station_hub.two")
    assert reply["error"]["code"] == "invalid_format"
    reply = await client.command("unsubscribe_events", subscription=subscription)
    assert reply["success"] is True


# ---- config and services ---------------------------------------------------------------


async def test_get_config_and_get_services(authed_hub, client):
    config = (await client.command("get_config"))["result"]
    assert config["version"] == HA_VERSION
    assert config["location_name"] == authed_hub.name
    assert "station_hub" in config["components"] and "echo" in config["components"]
    assert config["unit_system"]["temperature"] == "°C"
    assert config["state"] == "RUNNING"

    services = (await client.command("get_services"))["result"]
    send = services["station_hub"]["send_command"]
    assert send["fields"]["command"]["required"] is True
    assert send["target"] == {"entity": [{"integration": "station_hub"}]}


async def test_call_service_sends_a_device_command(authed_hub, client, fakes):
    devices = authed_hub.devices
    lamp = await devices.handshake("lamp", device_type="lamp", transport="echo")
    twin = await devices.handshake("twin", device_type="lamp", transport="echo")

    reply = await client.command(
        "call_service",
        domain="station_hub",
        service="send_command",
        service_data={"command": "toggle", "params": {"level": 3}},
        target={"entity_id": ["station_hub.lamp", "station_hub.twin"]},
        return_response=True,
    )

    assert reply["success"] is True, reply
    result = reply["result"]
    assert result["context"]["user_id"] == "user-user"
    assert set(result["response"]) == {"station_hub.lamp", "station_hub.twin"}
    command = devices.command(result["response"]["station_hub.lamp"]["commandId"])
    assert command is not None and command.source == "websocket"
    assert echo.SENT == [("lamp", "toggle", {"level": 3}), ("twin", "toggle", {"level": 3})]

    # entity_id in service_data works too (HA accepts both); no response unless asked.
    reply = await client.command(
        "call_service",
        domain="station_hub",
        service="send_command",
        service_data={"command": "off", "entity_id": "station_hub.twin"},
    )
    assert set(reply["result"]) == {"context"}
    assert echo.SENT[-1] == ("twin", "off", {})
    assert twin.id != lamp.id


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"domain": "light", "service": "turn_on"}, "not_found"),
        ({"service_data": {"command": "x"}, "target": {"entity_id": "station_hub.nope"}}, "not_found"),
        ({"service_data": {"command": "x"}}, "invalid_format"),
        ({"service_data": {"command": "bad command"}, "target": {"entity_id": "station_hub.lamp"}}, "invalid_format"),
        ({"service_data": {"command": "x", "params": []}, "target": {"entity_id": "station_hub.lamp"}}, "invalid_format"),
        ({"service_data": "x"}, "invalid_format"),
        ({"target": {"entity_id": "station_hub.far"}, "service_data": {"command": "x"}}, "home_assistant_error"),
    ],
    ids=["unknown-service", "unknown-entity", "no-target", "bad-name", "bad-params", "bad-data", "no-transport"],
)  # fmt: skip
async def test_call_service_errors_are_ha_error_frames(authed_hub, client, fields, code):
    await authed_hub.devices.handshake("lamp", device_type="lamp", transport="echo")
    await authed_hub.devices.handshake("far", device_type="x", transport="carrier-pigeon")
    message = {"domain": "station_hub", "service": "send_command", **fields}
    reply = await client.command("call_service", **message)
    assert reply["success"] is False
    assert reply["error"]["code"] == code, reply
    assert reply["error"]["message"]
    assert echo.SENT == []


async def test_a_failing_command_is_an_unknown_error_frame_and_a_logged_traceback(
    client, monkeypatch, caplog
):
    def broken(_connection, _message_id, _message):
        raise RuntimeError("a bug")

    monkeypatch.setitem(ws_commands.COMMANDS, "get_config", ws_commands.Command(broken))
    reply = await client.command("get_config")
    assert reply["error"] == {"code": "unknown_error", "message": "Unknown error."}
    assert any(record.exc_info for record in caplog.records if record.levelno == logging.ERROR)
    assert (await client.command("ping"))["type"] == "pong"


# ---- under load ----------------------------------------------------------------------


async def _burst(hub, client: HaSocket, count: int) -> list[dict[str, Any]]:
    device = await hub.devices.handshake("burst", device_type="x", transport="echo")
    subscription = await client.send("subscribe_events", event_type=events.DEVICE_STATE_CHANGED)
    assert (await client.receive())["success"] is True
    client.frames = client.arrays = 0
    for value in range(count):  # synchronous: the writer only runs after the burst
        hub.devices.report_state(device, {"v": value})
    return [await client.event(subscription) for _ in range(count)]


async def test_a_client_that_asked_gets_a_burst_coalesced_into_arrays(authed_hub, client):
    await client.command("supported_features", features={"coalesce_messages": 1})
    received = await _burst(authed_hub, client, 500)
    assert [event["data"]["state"]["v"] for event in received] == list(range(500))
    assert client.arrays >= 1
    assert client.frames < 50  # 500 messages, a handful of frames


async def test_a_client_that_did_not_ask_gets_one_message_per_frame(authed_hub, client):
    received = await _burst(authed_hub, client, 200)
    assert [event["data"]["state"]["v"] for event in received] == list(range(200))
    assert client.arrays == 0 and client.frames == 200


async def test_a_client_that_falls_too_far_behind_is_disconnected(authed_hub, client, monkeypatch):
    monkeypatch.setattr(ws_connection, "MAX_QUEUE", 20)
    device = await authed_hub.devices.handshake("flood", device_type="x", transport="echo")
    subscribed = await client.command("subscribe_events", event_type=events.DEVICE_STATE_CHANGED)
    assert subscribed["success"] is True
    for value in range(100):
        authed_hub.devices.report_state(device, {"v": value})
    async with asyncio.timeout(WAIT):
        while True:
            message = await client.socket.receive()
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
    assert client.socket.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
