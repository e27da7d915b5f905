"""The frames of Home Assistant's WebSocket API, built once and shared.

Every frame the hub sends is one of these shapes, so a client written for Home
Assistant (``home-assistant-js-websocket``, ``hass-client``) reads it unchanged. Event
bodies are serialized once per event and reused for every subscriber, as Home Assistant
does: with twenty dashboards open, a state change is encoded once, not twenty times.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Any

from hub import __version__
from hub.event_bus import Event
from hub.http.json import dumps
from hub.timestamps import iso

# The Home Assistant release whose WebSocket API this subset follows. Clients gate
# features on it (home-assistant-js-websocket sends supported_features from 2022.9 and
# uses subscribe_entities from 2022.4), so it must be a real HA version string.
HA_VERSION = "2025.1.0"

# Error codes, as homeassistant/components/websocket_api/const.py names them.
ERR_ID_REUSE = "id_reuse"
ERR_INVALID_FORMAT = "invalid_format"
ERR_NOT_FOUND = "not_found"
ERR_UNKNOWN_COMMAND = "unknown_command"
ERR_UNAUTHORIZED = "unauthorized"
ERR_HOME_ASSISTANT_ERROR = "home_assistant_error"
ERR_UNKNOWN_ERROR = "unknown_error"

# Where an event came from; everything the hub fires is its own.
ORIGIN_LOCAL = "LOCAL"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ENVELOPE_CACHE_SIZE = 64


def hello() -> dict[str, Any]:
    """The fields of ``auth_required`` and ``auth_ok``: HA's version, and the hub's."""
    return {"ha_version": HA_VERSION, "hub_version": __version__}


def result(message_id: int, value: Any = None) -> bytes:
    return dumps({"id": message_id, "type": "result", "success": True, "result": value})


def error(message_id: int | None, code: str, message: str) -> bytes:
    return dumps(
        {
            "id": message_id,
            "type": "result",
            "success": False,
            "error": {"code": code, "message": message},
        }
    )


def pong(message_id: int) -> bytes:
    return dumps({"id": message_id, "type": "pong"})


def event_frame(message_id: int, event_json: bytes) -> bytes:
    """``{"id", "type": "event", "event"}`` around an already serialized event body."""
    return b'{"id":%d,"type":"event","event":%b}' % (message_id, event_json)


def new_context_id(timestamp: float | None = None) -> str:
    """A ULID, as HA's context ids are: sortable by time, 26 Crockford base32 chars."""
    millis = int((time.time() if timestamp is None else timestamp) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def context(context_id: str, user_id: str | None = None) -> dict[str, str | None]:
    return {"id": context_id, "parent_id": None, "user_id": user_id}


class EnvelopeCache:
    """A hub bus event in HA's envelope, serialized once for every subscriber.

    ``fire`` calls the subscribers one after another, so the last few events are all a
    cache needs; the event object is kept so its ``id()`` cannot be reused meanwhile.
    The context id is minted here, once, so every subscriber sees the same one.
    """

    def __init__(self, size: int = _ENVELOPE_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[int, tuple[Event, bytes]] = OrderedDict()
        self._last: Event | None = None
        self._last_json = b""

    def json(self, event: Event) -> bytes:
        if event is self._last:
            return self._last_json  # the common case: the next subscriber of one fire()
        key = id(event)
        cached = self._items.get(key)
        if cached is not None and cached[0] is event:
            return cached[1]
        body = dumps(
            {
                "event_type": event.type,
                "data": event.data,
                "origin": ORIGIN_LOCAL,
                "time_fired": iso(event.time_fired),
                "context": context(new_context_id(event.time_fired)),
            }
        )
        self._items[key] = (event, body)
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        self._last, self._last_json = event, body
        return body
