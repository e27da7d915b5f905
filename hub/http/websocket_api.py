"""The WebSocket events API, in Home Assistant's shape (PRODUCT.md §4).

A connection is authenticated once, by the same ``user`` scheme the HTTP routes use, then
carries ``{id, type}`` commands. Events are queued per connection (bounded): a client that
cannot keep up is disconnected rather than allowed to grow the hub's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from hub import __version__
from hub.auth import PUBLIC, Principal
from hub.events import MATCH_ALL, Event
from hub.http.errors import ApiError
from hub.http.json import dumps, parse_json_bytes
from hub.registrar import Registrar

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
MAX_QUEUE = 4096
MAX_MESSAGE_BYTES = 64 * 1024


class _Connection:
    def __init__(self, hub: Hub, socket: web.WebSocketResponse, principal: Principal) -> None:
        self.hub = hub
        self.socket = socket
        self.principal = principal
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_QUEUE)
        self.subscriptions: dict[int, Callable[[], None]] = {}

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(dumps(message))
        except asyncio.QueueFull:
            _LOGGER.warning("WebSocket client %s is too slow; closing", self.principal.name)
            self.close_subscriptions()
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            self.hub.create_task(self.socket.close(message=b"too slow"), name="ws-close")

    async def writer(self) -> None:
        while True:
            data = await self.queue.get()
            if data is None or self.socket.closed:
                return
            await self.socket.send_str(data.decode())

    def close_subscriptions(self) -> None:
        for unsubscribe in self.subscriptions.values():
            unsubscribe()
        self.subscriptions.clear()

    def result(self, message_id: Any, result: Any = None) -> None:
        self.send({"id": message_id, "type": "result", "success": True, "result": result})

    def error(self, message_id: Any, code: str, message: str) -> None:
        self.send(
            {
                "id": message_id,
                "type": "result",
                "success": False,
                "error": {"code": code, "message": message},
            }
        )

    def handle(self, message: Any) -> None:
        if not isinstance(message, dict):
            self.error(None, "invalid_format", "a message must be a JSON object")
            return
        message_id = message.get("id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            self.error(None, "invalid_format", "'id' must be an integer")
            return
        kind = message.get("type")
        if kind == "ping":
            self.send({"id": message_id, "type": "pong"})
        elif kind == "subscribe_events":
            self.subscribe(message_id, message.get("event_type", MATCH_ALL))
        elif kind == "unsubscribe_events":
            subscription = message.get("subscription")
            unsubscribe = self.subscriptions.pop(subscription, None)  # type: ignore[arg-type]
            if unsubscribe is None:
                self.error(message_id, "not_found", f"no subscription {subscription!r}")
            else:
                unsubscribe()
                self.result(message_id)
        else:
            self.error(message_id, "unknown_command", f"unknown command type {kind!r}")

    def subscribe(self, message_id: int, event_type: Any) -> None:
        if not isinstance(event_type, str) or not event_type:
            self.error(message_id, "invalid_format", "'event_type' must be a non-empty string")
            return
        if message_id in self.subscriptions:
            self.error(message_id, "id_reused", f"id {message_id} is already a subscription")
            return

        def forward(event: Event) -> None:
            self.send({"id": message_id, "type": "event", "event": event.as_dict()})

        self.subscriptions[message_id] = self.hub.bus.listen(event_type, forward)
        self.result(message_id)


async def _authenticate(hub: Hub, socket: web.WebSocketResponse) -> Principal | None:
    await socket.send_str(dumps({"type": "auth_required", "hub_version": __version__}).decode())
    try:
        message = await socket.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await _refuse(socket, "no auth message within 10 s")
        return None
    if message.type != WSMsgType.TEXT:
        await _refuse(socket, "expected an auth message")
        return None
    try:
        data = parse_json_bytes(message.data.encode())
    except ValueError as error:
        await _refuse(socket, str(error))
        return None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("type") != "auth" or not isinstance(token, str):
        await _refuse(socket, 'expected {"type": "auth", "access_token": "..."}')
        return None
    scheme = hub.registrations.auth_scheme("user")
    if scheme is None:
        await _refuse(socket, "no running integration provides user authentication")
        return None
    try:
        principal = await scheme.authenticate_token(token)
    except ApiError as error:
        await _refuse(socket, error.message)
        return None
    await socket.send_str(dumps({"type": "auth_ok", "hub_version": __version__}).decode())
    return principal


async def _refuse(socket: web.WebSocketResponse, reason: str) -> None:
    await socket.send_str(dumps({"type": "auth_invalid", "message": reason}).decode())
    await socket.close()


def register(hub: Hub, registrar: Registrar) -> None:
    async def websocket_api(request: web.Request) -> web.StreamResponse:
        """Events API: auth phase, then subscribe_events / unsubscribe_events / ping."""
        socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE_BYTES)
        await socket.prepare(request)
        principal = await _authenticate(hub, socket)
        if principal is None:
            return socket
        connection = _Connection(hub, socket, principal)
        writer = asyncio.create_task(connection.writer())
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    if message.type == WSMsgType.BINARY:
                        connection.error(None, "invalid_format", "binary frames are not accepted")
                    continue
                try:
                    data = parse_json_bytes(message.data.encode())
                except ValueError as error:
                    connection.error(None, "invalid_format", str(error))
                    continue
                connection.handle(data)
        finally:
            connection.close_subscriptions()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return socket

    # Authentication happens inside the socket (a browser cannot set headers on an
    # upgrade), so the route itself is public and the auth phase is mandatory.
    registrar.http_route(
        "GET",
        "/api/websocket",
        websocket_api,
        auth=PUBLIC,
        websocket=True,
        tags=("websocket",),
        description='Authenticate with {"type": "auth", "access_token": ...} after auth_required.',
    )
