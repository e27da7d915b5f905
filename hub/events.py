"""The core's events: each type's name and the shape of its data, in one place.

As in Home Assistant (``homeassistant.util.event_type.EventType``), an event type is a
``str`` that carries its data's ``TypedDict`` as a type parameter. At runtime the constant
is just the string (``DEVICE_STATE_CHANGED == "device_state_changed"``) and the data is a
plain ``dict``, so nothing is converted per message on the ingest hot path and the
WebSocket API and automations serialise ``event.data`` exactly as before. For a type
checker the parameter links the two: a listener passed to
``bus.listen(DEVICE_STATE_CHANGED, ...)`` receives an ``Event[DeviceStateChangedData]``, and
``bus.fire(DEVICE_STATE_CHANGED, data)`` checks ``data`` against ``DeviceStateChangedData``.
Build the data as an annotated local, as Home Assistant does
(``data: DeviceStateChangedData = {...}``): at runtime that is still a dict literal, nothing
is called; and mypy cannot infer the type parameter from a literal written in the call.

The keys are camelCase because they are the wire format: the WebSocket API sends
``event.data`` as it is, and the cloud link's notifications take their fields by name.
``docs/architecture.md`` ("Events") lists who fires each one. An integration names its
own events the same way (``EventType[ItsData]("...")``); plain ``str`` event types keep
working for user and automation events.

The bus itself (``EventBus``, ``Event``, ``MATCH_ALL``) is in ``hub/event_bus.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, NotRequired, TypedDict, TypeVar

from hub.devices.models import DeviceDict

# The data of an event: a TypedDict for the typed ones, any mapping for plain-str ones.
DataT = TypeVar("DataT", bound=Mapping[str, Any])


if TYPE_CHECKING:
    # Type checkers are told EventType is not a str, as Home Assistant's event_type.pyi
    # tells them: were it one, ``EventType[DataT] | str`` in ``EventBus.fire``/``listen``
    # would match the ``str`` half for every event and link nothing (mypy infers no DataT).

    class EventType(Generic[DataT]):
        """An event type's name; its type parameter is the shape of the event's data."""

        def __init__(self, value: str) -> None: ...
        def __hash__(self) -> int: ...
        def __eq__(self, value: object) -> bool: ...

else:

    class EventType(str, Generic[DataT]):
        """An event type's name; its type parameter is the shape of the event's data.

        At runtime a ``str`` subclass, so it compares, hashes and serialises as its name,
        and any code that takes a plain ``str`` event type takes it too.
        """

        __slots__ = ()


# ---- the device domain (hub/devices/) -------------------------------------------------


class DeviceRegisteredData(TypedDict):
    """A device exists for the first time (its first handshake)."""

    device: DeviceDict


class DeviceUpdatedData(TypedDict):
    """A device's own fields changed other than by a report (it was renamed)."""

    device: DeviceDict


class DeviceRemovedData(TypedDict):
    """A device was forgotten, with its history, events and commands."""

    deviceId: str


class DeviceStateChangedData(TypedDict):
    """A device reported a state different from its last one (redeliveries never fire)."""

    deviceId: str
    externalId: str
    state: dict[str, Any]
    oldState: dict[str, Any]


class DeviceEventData(TypedDict):
    """A device reported an event; ``type`` and ``data`` are the device's own."""

    deviceId: str
    externalId: str
    type: str
    data: Any
    seq: int | None


class DevicePresenceChangedData(TypedDict):
    """A device came online (any message) or went offline (silent too long, or told)."""

    deviceId: str
    externalId: str
    online: bool
    lastSeen: str | None


class CommandStatusChangedData(TypedDict):
    """A command moved on: ``sent``, then ``succeeded`` or ``failed``."""

    commandId: str
    deviceId: str
    command: str
    status: str
    result: Any
    error: str | None


DEVICE_REGISTERED: EventType[DeviceRegisteredData] = EventType("device_registered")
DEVICE_UPDATED: EventType[DeviceUpdatedData] = EventType("device_updated")
DEVICE_REMOVED: EventType[DeviceRemovedData] = EventType("device_removed")
DEVICE_STATE_CHANGED: EventType[DeviceStateChangedData] = EventType("device_state_changed")
DEVICE_EVENT: EventType[DeviceEventData] = EventType("device_event")
DEVICE_PRESENCE_CHANGED: EventType[DevicePresenceChangedData] = EventType("device_presence_changed")
COMMAND_STATUS_CHANGED: EventType[CommandStatusChangedData] = EventType("command_status_changed")


# ---- the hub's lifecycle (hub/core.py) ------------------------------------------------


class HubStartedData(TypedDict):
    """Every integration is set up and the hub serves."""

    stationId: str


class HubStoppingData(TypedDict):
    """The hub begins to stop; nothing to say but that."""


HUB_STARTED: EventType[HubStartedData] = EventType("hub_started")
HUB_STOPPING: EventType[HubStoppingData] = EventType("hub_stopping")


# ---- authentication -----------------------------------------------------------------


class SessionsRevokedData(TypedDict):
    """A principal's right to its live sessions ended (an auth scheme fires it).

    Every socket owner closes the matching sockets with ``hub.auth.CLOSE_SESSION_REVOKED``:
    all of the principal's, or with ``credentialId`` only those opened with that credential.
    """

    kind: str
    id: str
    reason: str
    credentialId: NotRequired[str]


SESSIONS_REVOKED: EventType[SessionsRevokedData] = EventType("sessions_revoked")
