"""The WebSocket events API with a real aiohttp WebSocket client."""

import asyncio

import aiohttp

from hub import events


async def receive(socket, seconds=2):
    return await asyncio.wait_for(socket.receive_json(), seconds)


async def connect(hub):
    session = aiohttp.ClientSession()
    socket = await session.ws_connect(f"{hub.http_url}/api/websocket")
    return session, socket


async def test_auth_phase_then_subscribe_receive_unsubscribe(authed_hub):
    session, socket = await connect(authed_hub)
    async with session:
        assert (await receive(socket))["type"] == "auth_required"
        await socket.send_json({"type": "auth", "access_token": "user-token"})
        assert (await receive(socket))["type"] == "auth_ok"

        await socket.send_json({"id": 1, "type": "ping"})
        assert await receive(socket) == {"id": 1, "type": "pong"}

        await socket.send_json(
            {"id": 2, "type": "subscribe_events", "event_type": events.DEVICE_STATE_CHANGED}
        )
        assert (await receive(socket))["success"] is True
        device = await authed_hub.devices.handshake("ws-1", device_type="x", transport="echo")
        authed_hub.bus.fire("unrelated", {})
        authed_hub.devices.report_state(device, {"v": 1})
        message = await receive(socket)
        assert message["id"] == 2 and message["type"] == "event"
        assert message["event"]["type"] == events.DEVICE_STATE_CHANGED
        assert message["event"]["data"]["state"] == {"v": 1}

        await socket.send_json({"id": 3, "type": "unsubscribe_events", "subscription": 2})
        assert (await receive(socket))["success"] is True
        authed_hub.devices.report_state(device, {"v": 2})
        await socket.send_json({"id": 4, "type": "ping"})
        assert (await receive(socket))["type"] == "pong"  # no event came in between

        await socket.send_json({"id": 5, "type": "unsubscribe_events", "subscription": 2})
        assert (await receive(socket))["error"]["code"] == "not_found"
        await socket.send_json({"id": 6, "type": "fly"})
        assert (await receive(socket))["error"]["code"] == "unknown_command"
        await socket.send_str("{not json")
        assert (await receive(socket))["error"]["code"] == "invalid_format"
        await socket.send_json({"type": "ping"})
        assert (await receive(socket))["error"]["code"] == "invalid_format"
        await socket.send_json({"id": 7, "type": "ping"})
        assert (await receive(socket))["type"] == "pong"  # still alive after bad input
        await socket.close()


async def test_bad_token_is_refused_and_closed(authed_hub):
    session, socket = await connect(authed_hub)
    async with session:
        await receive(socket)
        await socket.send_json({"type": "auth", "access_token": "wrong"})
        reply = await receive(socket)
        assert reply["type"] == "auth_invalid"
        closing = await asyncio.wait_for(socket.receive(), 2)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_commands_before_auth_are_refused(authed_hub):
    session, socket = await connect(authed_hub)
    async with session:
        await receive(socket)
        await socket.send_json({"id": 1, "type": "subscribe_events"})
        assert (await receive(socket))["type"] == "auth_invalid"


async def test_without_a_user_scheme_the_socket_fails_closed(hub_factory, fakes):
    hub = await hub_factory({"echo": {}}, integrations=fakes)
    session, socket = await connect(hub)
    async with session:
        await receive(socket)
        await socket.send_json({"type": "auth", "access_token": "anything"})
        reply = await receive(socket)
        assert reply["type"] == "auth_invalid"
        assert "no running integration" in reply["message"]
