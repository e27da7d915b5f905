"""``/api/websocket``: a faithful subset of Home Assistant's WebSocket API.

Home Assistant's own clients (``home-assistant-js-websocket``, ``hass-client``) work
against it unchanged; docs/websocket-api.md is the reference. One job per module:

- ``session``: the in-band auth phase and the ``SessionGuard`` that closes a socket when
  its right ends (shared with every authenticated socket of the hub);
- ``connection``: one client's frames in (checked, dispatched) and out (queued,
  coalesced, bounded);
- ``commands``: the table of commands (``ping`` ... ``call_service``);
- ``permissions``: which event types a user may subscribe to (HA's allow-list rule);
- ``entities``: hub devices seen as HA entities, kept current from the bus;
- ``messages``: the frame shapes, error codes and HA's event envelope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from hub.auth import PUBLIC
from hub.event_bus import Event
from hub.events import HUB_STOPPING
from hub.http.websocket import messages
from hub.http.websocket.connection import Connection
from hub.http.websocket.entities import EntityStore
from hub.http.websocket.session import authenticate_socket
from hub.registrar import Registrar

if TYPE_CHECKING:
    from hub.core import Hub

MAX_MESSAGE_BYTES = 64 * 1024


def register(hub: Hub, registrar: Registrar) -> None:
    """Follow the devices as entities from now on, and serve ``GET /api/websocket``."""
    entities = EntityStore(hub.devices)
    entities.start(hub.bus)
    envelopes = messages.EnvelopeCache()

    def stop(_event: Event) -> None:
        entities.stop()

    hub.bus.listen(HUB_STOPPING, stop)

    async def websocket_api(request: web.Request) -> web.StreamResponse:
        """Home Assistant's WebSocket API: auth phase, then {id, type} commands."""
        socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE_BYTES)
        await socket.prepare(request)
        authenticated = await authenticate_socket(hub, socket, messages.hello())
        if authenticated is None:
            return socket
        principal, token = authenticated
        await Connection(hub, socket, principal, entities, envelopes).run(token)
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
        description=(
            "Home Assistant's WebSocket API (docs/websocket-api.md): answer auth_required "
            'with {"type": "auth", "access_token": ...}, then send {id, type} commands.'
        ),
    )
