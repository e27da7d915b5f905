"""The commands of the WebSocket API, each HA's command of the same name, in a table.

A handler gets the connection, the message id and the message, and answers through the
connection (``result``, ``error``, ``send``); one that awaits returns a coroutine, which
the connection runs as a task. ``roles`` is checked before the handler runs: empty means
any user the ``user`` scheme accepts, as for the HTTP routes the command mirrors
(``call_service`` needs what ``POST /api/devices/{id}/commands`` needs).
``subscribe_events`` also checks each event type it is asked for (``permissions``, HA's
allow-list for non-admins); the entity commands show what ``state_changed`` shows, which
that list opens to every user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import __version__
from hub.devices.registry import DeviceError
from hub.event_bus import MATCH_ALL, Event
from hub.http.device_routes import COMMAND_SCHEMA
from hub.http.json import dumps
from hub.http.websocket import messages
from hub.http.websocket.entities import DOMAIN, EntityChange
from hub.http.websocket.permissions import PRIVATE_EVENTS, STATE_CHANGED, is_admin, may_subscribe

if TYPE_CHECKING:
    from hub.http.websocket.connection import Connection

Handler = Callable[["Connection", int, dict[str, Any]], Awaitable[None] | None]

SEND_COMMAND = "send_command"
SOURCE = "websocket"


@dataclass(frozen=True, slots=True)
class Command:
    handler: Handler
    roles: tuple[str, ...] = ()


def ping(connection: Connection, message_id: int, _message: dict[str, Any]) -> None:
    connection.send(messages.pong(message_id))


def supported_features(connection: Connection, message_id: int, message: dict[str, Any]) -> None:
    """HA's feature flags; the only one the hub knows is ``coalesce_messages``."""
    features = message.get("features", {})
    if not isinstance(features, dict):
        connection.error(message_id, messages.ERR_INVALID_FORMAT, "'features' must be an object.")
        return
    connection.coalesce = bool(features.get("coalesce_messages"))
    connection.result(message_id)


def subscribe_events(connection: Connection, message_id: int, message: dict[str, Any]) -> None:
    """Bus events in HA's envelope; ``state_changed`` (and ``*``) add entity changes.

    Which types a principal may ask for is HA's rule (``permissions``): an owner or admin
    any but the private ones, anyone else only the allow-list, so not ``*``, the default.
    """
    event_type = message.get("event_type", MATCH_ALL)
    if not isinstance(event_type, str) or not event_type:
        connection.error(
            message_id, messages.ERR_INVALID_FORMAT, "'event_type' must be a non-empty string."
        )
        return
    if not may_subscribe(connection.principal, event_type):
        connection.error(message_id, messages.ERR_UNAUTHORIZED, _refusal(connection, event_type))
        return
    envelopes = connection.envelopes
    stops: list[Callable[[], None]] = []

    def forward(event: Event) -> None:
        if event.type not in PRIVATE_EVENTS:
            connection.send(messages.event_frame(message_id, envelopes.json(event)))

    def forward_change(change: EntityChange) -> None:
        connection.send(messages.event_frame(message_id, change.event_json()))

    if event_type != STATE_CHANGED:
        stops.append(connection.hub.bus.listen(event_type, forward))
    if event_type in (STATE_CHANGED, MATCH_ALL):
        stops.append(connection.entities.listen(forward_change))

    def stop_all() -> None:
        for stop in stops:
            stop()

    connection.subscriptions[message_id] = stop_all
    connection.result(message_id)


def _refusal(connection: Connection, event_type: str) -> str:
    """HA says only "Unauthorized"; say which rule refused, so a client's author can tell."""
    if event_type in PRIVATE_EVENTS or is_admin(connection.principal):
        return f"Unauthorized: {event_type} is not open to subscribers."
    if event_type == MATCH_ALL:
        return "Unauthorized: only owners and admins may subscribe to every event (*)."
    return f"Unauthorized: {event_type} is open to owners and admins only."


def unsubscribe_events(connection: Connection, message_id: int, message: dict[str, Any]) -> None:
    """Ends any subscription, whichever command made it (as in HA)."""
    stop = connection.subscriptions.pop(message.get("subscription"), None)  # type: ignore[arg-type]
    if stop is None:
        connection.error(message_id, messages.ERR_NOT_FOUND, "Subscription not found.")
        return
    stop()
    connection.result(message_id)


def get_states(connection: Connection, message_id: int, _message: dict[str, Any]) -> None:
    connection.result(message_id, [state.as_dict() for state in connection.entities.states()])


def subscribe_entities(connection: Connection, message_id: int, message: dict[str, Any]) -> None:
    """HA's compressed entity feed: all current states (``a``), then each change.

    The result comes first and the full ``{"a": ...}`` event right after it; both are
    queued before any change can be, so the client's picture never misses one.
    """
    wanted = message.get("entity_ids")
    if wanted is not None and (
        not isinstance(wanted, list) or not all(isinstance(item, str) for item in wanted)
    ):
        connection.error(
            message_id, messages.ERR_INVALID_FORMAT, "'entity_ids' must be a list of strings."
        )
        return
    only = frozenset(wanted) if wanted is not None else None

    def forward(change: EntityChange) -> None:
        if only is None or change.entity_id in only:
            connection.send(messages.event_frame(message_id, change.entities_json()))

    connection.subscriptions[message_id] = connection.entities.listen(forward)
    connection.result(message_id)
    states = {
        state.entity_id: state.compressed()
        for state in connection.entities.states()
        if only is None or state.entity_id in only
    }
    connection.send(messages.event_frame(message_id, dumps({"a": states})))


def get_config(connection: Connection, message_id: int, _message: dict[str, Any]) -> None:
    """HA's core config, filled with what the hub knows (docs/websocket-api.md)."""
    hub = connection.hub
    connection.result(
        message_id,
        {
            "location_name": hub.name,
            "latitude": 0,
            "longitude": 0,
            "elevation": 0,
            "radius": 100,
            "unit_system": {
                "length": "km",
                "accumulated_precipitation": "mm",
                "area": "m²",
                "mass": "g",
                "pressure": "Pa",
                "temperature": "°C",
                "volume": "L",
                "wind_speed": "m/s",
            },
            "time_zone": "UTC",
            "components": [DOMAIN, *sorted(hub.integrations)],
            "config_dir": "",
            "allowlist_external_dirs": [],
            "allowlist_external_urls": [],
            "version": messages.HA_VERSION,
            "hub_version": __version__,
            "config_source": "yaml",
            "recovery_mode": False,
            "safe_mode": False,
            "state": "STARTING" if hub.status() == "starting" else "RUNNING",
            "external_url": None,
            "internal_url": None,
            "currency": "EUR",
            "country": None,
            "language": "en",
            "debug": False,
        },
    )


SERVICES = {
    DOMAIN: {
        SEND_COMMAND: {
            "name": "Send command",
            "description": (
                "Send a command to the targeted devices, as POST /api/devices/{id}/commands "
                "does; its progress is reported as command_status_changed."
            ),
            "fields": {
                "command": {
                    "name": "Command",
                    "description": "The command's name: 1-64 letters, digits or _.:-",
                    "required": True,
                    "example": "toggle",
                    "selector": {"text": {}},
                },
                "params": {
                    "name": "Parameters",
                    "description": "A JSON object handed to the device with the command.",
                    "required": False,
                    "example": {},
                    "selector": {"object": {}},
                },
            },
            "target": {"entity": [{"integration": DOMAIN}]},
            "response": {"optional": True},
        }
    }
}


def get_services(connection: Connection, message_id: int, _message: dict[str, Any]) -> None:
    connection.result(message_id, SERVICES)


def _entity_ids(*values: Any) -> list[str] | None:
    """The entity ids named in ``target`` and ``service_data`` (a string or a list), each
    once, in order; None when one of them is neither."""
    found: dict[str, None] = {}
    for value in values:
        if value is None:
            continue
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            return None
        found.update(dict.fromkeys(items))
    return list(found)


async def call_service(connection: Connection, message_id: int, message: dict[str, Any]) -> None:
    """``station_hub.send_command`` with ``{command, params}`` on the targeted entities.

    Every target is checked before any command is sent; the commands then go out one
    device at a time, and the first failure is the answer (earlier ones stay sent).
    """
    domain, service = message.get("domain"), message.get("service")
    data, target = message.get("service_data") or {}, message.get("target") or {}
    if not isinstance(domain, str) or not isinstance(service, str):
        connection.error(
            message_id, messages.ERR_INVALID_FORMAT, "'domain' and 'service' must be strings."
        )
        return
    if (domain, service) != (DOMAIN, SEND_COMMAND):
        connection.error(
            message_id, messages.ERR_NOT_FOUND, f"Service {domain}.{service} not found."
        )
        return
    if not isinstance(data, dict) or not isinstance(target, dict):
        connection.error(
            message_id, messages.ERR_INVALID_FORMAT, "'service_data' and 'target' must be objects."
        )
        return
    data = dict(data)
    entity_ids = _entity_ids(target.get("entity_id"), data.pop("entity_id", None))
    if not entity_ids:
        connection.error(
            message_id,
            messages.ERR_INVALID_FORMAT,
            "Name the entities to command in target.entity_id (a string or a list).",
        )
        return
    try:
        body = COMMAND_SCHEMA(data)
    except vol.Invalid as error:
        connection.error(message_id, messages.ERR_INVALID_FORMAT, f"Invalid service data: {error}")
        return
    targets: list[tuple[str, str]] = []
    for entity_id in entity_ids:
        device_id = connection.entities.device_id(entity_id)
        if device_id is None:
            connection.error(message_id, messages.ERR_NOT_FOUND, f"Entity {entity_id} not found.")
            return
        targets.append((entity_id, device_id))
    context = messages.context(messages.new_context_id(), connection.principal.id)
    response: dict[str, Any] = {}
    for entity_id, device_id in targets:
        try:
            command = await connection.hub.devices.send_command(
                device_id, body["command"], body["params"], source=SOURCE
            )
        except DeviceError as error:
            code = (
                messages.ERR_NOT_FOUND
                if error.code == "device_not_found"
                else messages.ERR_HOME_ASSISTANT_ERROR
            )
            connection.error(message_id, code, f"{entity_id}: {error.message}")
            return
        response[entity_id] = {"commandId": command.id, "status": command.status}
    value: dict[str, Any] = {"context": context}
    if message.get("return_response"):
        value["response"] = response
    connection.result(message_id, value)


COMMANDS: dict[str, Command] = {
    "ping": Command(ping),
    "supported_features": Command(supported_features),
    "subscribe_events": Command(subscribe_events),
    "unsubscribe_events": Command(unsubscribe_events),
    "get_states": Command(get_states),
    "subscribe_entities": Command(subscribe_entities),
    "get_config": Command(get_config),
    "get_services": Command(get_services),
    "call_service": Command(call_service),
}
