"""Hub devices seen as Home Assistant entities (docs/websocket-api.md, "Entities").

HA clients know entities, not devices: ``{entity_id, state, attributes, last_changed,
last_updated, context}``, where ``state`` is one string and ``last_changed`` moves only
when that string does. The hub's device registry keeps neither, so this store follows the
device events on the bus and keeps, per handshaken device, the entity HA would show, the
way HA's own state machine does. It notifies ``listen``ers of each real change once; the
frames for that change are serialized once (``EntityChange``) for every subscriber.

Mapping, in one place: entity id ``station_hub.<external id, slugified>`` (a later device
whose slug is taken gets ``_<first 8 of its id>`` appended); state ``unavailable`` while
offline, else the device state's ``state`` value, else its boolean ``on`` as ``on``/``off``,
else ``unknown`` before any state and ``online`` after; attributes the device's state
object plus the hub's facts about the device.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub import events
from hub.http.json import dumps
from hub.http.websocket.messages import ORIGIN_LOCAL, context, new_context_id
from hub.timestamps import iso

if TYPE_CHECKING:
    from hub.devices.models import Device
    from hub.devices.registry import DeviceRegistry
    from hub.event_bus import Event, EventBus

_LOGGER = logging.getLogger(__name__)

DOMAIN = "station_hub"
STATE_UNAVAILABLE = "unavailable"
STATE_UNKNOWN = "unknown"
STATE_ONLINE = "online"
# HA refuses longer states (homeassistant.const.MAX_LENGTH_STATE_STATE).
MAX_STATE_LENGTH = 255
# Device events after which the device's entity may look different.
WATCHED_EVENTS = (
    events.DEVICE_REGISTERED,
    events.DEVICE_STATE_CHANGED,
    events.DEVICE_PRESENCE_CHANGED,
    events.DEVICE_UPDATED,
    events.DEVICE_REMOVED,
)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class EntityState:
    """One entity's state, immutable once built (a change builds a new one)."""

    __slots__ = ("_context_id", "attributes", "entity_id", "last_changed", "last_updated", "state")

    def __init__(
        self,
        entity_id: str,
        state: str,
        attributes: dict[str, Any],
        last_changed: float,
        last_updated: float,
    ) -> None:
        self.entity_id = entity_id
        self.state = state
        self.attributes = attributes
        self.last_changed = last_changed
        self.last_updated = last_updated
        self._context_id: str | None = None

    @property
    def context_id(self) -> str:
        """Minted when first asked for: most states are never sent to anyone."""
        if self._context_id is None:
            self._context_id = new_context_id(self.last_updated)
        return self._context_id

    def as_dict(self) -> dict[str, Any]:
        """HA's ``State.as_dict()``: what ``get_states`` and ``state_changed`` carry."""
        updated = iso(self.last_updated)
        return {
            "entity_id": self.entity_id,
            "state": self.state,
            "attributes": self.attributes,
            "last_changed": iso(self.last_changed),
            "last_reported": updated,
            "last_updated": updated,
            "context": context(self.context_id),
        }

    def compressed(self) -> dict[str, Any]:
        """HA's compressed state (``subscribe_entities``): ``lu`` only when it differs."""
        data: dict[str, Any] = {
            "s": self.state,
            "a": self.attributes,
            "c": self.context_id,
            "lc": self.last_changed,
        }
        if self.last_updated != self.last_changed:
            data["lu"] = self.last_updated
        return data


def state_diff(old: EntityState, new: EntityState) -> dict[str, Any]:
    """What changed, as ``subscribe_entities`` sends it: ``{"+": {...}, "-": {"a": [...]}}``.

    ``lc`` implies ``lu`` (the JS client sets both from it), so only one is sent.
    """
    additions: dict[str, Any] = {}
    diff: dict[str, Any] = {"+": additions}
    if old.state != new.state:
        additions["s"] = new.state
    if old.last_changed != new.last_changed:
        additions["lc"] = new.last_changed
    elif old.last_updated != new.last_updated:
        additions["lu"] = new.last_updated
    if old.context_id != new.context_id:
        additions["c"] = new.context_id
    if old.attributes != new.attributes:
        before = old.attributes
        added = {
            key: value
            for key, value in new.attributes.items()
            if key not in before or before[key] != value
        }
        if added:
            additions["a"] = added
        removed = [key for key in before if key not in new.attributes]
        if removed:
            diff["-"] = {"a": removed}
    return diff


class EntityChange:
    """One entity added, changed or removed; its frames are serialized on first use."""

    __slots__ = ("_entities_json", "_event_json", "entity_id", "new", "old", "time_fired")

    def __init__(
        self,
        entity_id: str,
        old: EntityState | None,
        new: EntityState | None,
        time_fired: float,
    ) -> None:
        self.entity_id = entity_id
        self.old = old
        self.new = new
        self.time_fired = time_fired
        self._entities_json: bytes | None = None
        self._event_json: bytes | None = None

    def entities_json(self) -> bytes:
        """The ``subscribe_entities`` event body: ``{"a"|"c"|"r": ...}``."""
        if self._entities_json is None:
            if self.new is None:
                body: dict[str, Any] = {"r": [self.entity_id]}
            elif self.old is None:
                body = {"a": {self.entity_id: self.new.compressed()}}
            else:
                body = {"c": {self.entity_id: state_diff(self.old, self.new)}}
            self._entities_json = dumps(body)
        return self._entities_json

    def event_json(self) -> bytes:
        """HA's ``state_changed`` event, in the envelope ``subscribe_events`` sends."""
        if self._event_json is None:
            context_id = self.new.context_id if self.new else new_context_id(self.time_fired)
            self._event_json = dumps(
                {
                    "event_type": "state_changed",
                    "data": {
                        "entity_id": self.entity_id,
                        "old_state": self.old.as_dict() if self.old else None,
                        "new_state": self.new.as_dict() if self.new else None,
                    },
                    "origin": ORIGIN_LOCAL,
                    "time_fired": iso(self.time_fired),
                    "context": context(context_id),
                }
            )
        return self._event_json


EntityListener = Callable[[EntityChange], None]


def slugify(text: str) -> str:
    """HA's object-id rules: lower case ``a-z0-9`` and single ``_`` between words."""
    return _NOT_SLUG.sub("_", text.lower()).strip("_") or "device"


def entity_state_text(device: Device) -> str:
    """The one string HA shows for a device (the rule in the module docstring)."""
    if not device.online:
        return STATE_UNAVAILABLE
    state = device.state
    value = state.get("state")
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str | int | float):
        return str(value)[:MAX_STATE_LENGTH]
    switch = state.get("on")
    if isinstance(switch, bool):
        return "on" if switch else "off"
    return STATE_ONLINE if state else STATE_UNKNOWN


def entity_attributes(device: Device) -> dict[str, Any]:
    """The device's state object, then the hub's facts (which win over a state key)."""
    return {
        **device.state,
        "friendly_name": device.name,
        "device_id": device.id,
        "external_id": device.external_id,
        "device_type": device.type,
        "firmware": device.firmware,
        "transport": device.transport,
        "capabilities": list(device.capabilities),
    }


class EntityStore:
    """The entities of the hub's handshaken devices, kept current from the bus."""

    def __init__(self, devices: DeviceRegistry) -> None:
        self._devices = devices
        self._states: dict[str, EntityState] = {}
        self._entity_of: dict[str, str] = {}  # device id -> entity id
        self._device_of: dict[str, str] = {}  # entity id -> device id
        self._listeners: list[EntityListener] = []
        self._unsubscribe: list[Callable[[], None]] = []

    def start(self, bus: EventBus) -> None:
        """Take in the devices already loaded, then follow their events.

        Older devices first, so a slug two devices share stays with the older one
        across restarts. A device's entity starts with ``last_changed`` at its last
        sign of life, as the hub has nothing older to go by.
        """
        for device in sorted(self._devices.all(), key=lambda item: (item.created_at, item.id)):
            if device.handshaken:
                since = device.last_seen or device.created_at
                entity_id = self._assign(device)
                self._states[entity_id] = self._build(device, entity_id, since, since)
        for event_type in WATCHED_EVENTS:
            self._unsubscribe.append(bus.listen(event_type, self._on_device_event))

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def states(self) -> list[EntityState]:
        return list(self._states.values())

    def get(self, entity_id: str) -> EntityState | None:
        return self._states.get(entity_id)

    def device_id(self, entity_id: str) -> str | None:
        return self._device_of.get(entity_id)

    def listen(self, listener: EntityListener) -> Callable[[], None]:
        """Call ``listener`` with each change; returns the callable that stops it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                # Replace, not mutate: a notification in progress keeps its snapshot.
                self._listeners = [item for item in self._listeners if item is not listener]

        return unsubscribe

    def _on_device_event(self, event: Event) -> None:
        data = event.data
        device_id = data.get("deviceId")
        if device_id is None and isinstance(data.get("device"), dict):
            device_id = data["device"].get("id")
        if isinstance(device_id, str):
            self._refresh(device_id, event.time_fired)

    def _refresh(self, device_id: str, now: float) -> None:
        device = self._devices.get(device_id)
        entity_id = self._entity_of.get(device_id)
        old = self._states.get(entity_id) if entity_id else None
        if device is None or not device.handshaken:
            if entity_id is not None:
                self._forget(device_id, entity_id)
                if old is not None:
                    self._notify(EntityChange(entity_id, old, None, now))
            return
        if entity_id is None:
            entity_id = self._assign(device)
        text = entity_state_text(device)
        attributes = entity_attributes(device)
        if old is not None and old.state == text and old.attributes == attributes:
            return  # a heartbeat, or a change HA would not show
        last_changed = now if old is None or old.state != text else old.last_changed
        new = EntityState(entity_id, text, attributes, last_changed, now)
        self._states[entity_id] = new
        self._notify(EntityChange(entity_id, old, new, now))

    def _build(self, device: Device, entity_id: str, changed: float, updated: float) -> EntityState:
        return EntityState(
            entity_id, entity_state_text(device), entity_attributes(device), changed, updated
        )

    def _assign(self, device: Device) -> str:
        entity_id = f"{DOMAIN}.{slugify(device.external_id)}"
        if entity_id in self._device_of:
            entity_id = f"{entity_id}_{device.id[:8]}"
        self._entity_of[device.id] = entity_id
        self._device_of[entity_id] = device.id
        return entity_id

    def _forget(self, device_id: str, entity_id: str) -> None:
        self._states.pop(entity_id, None)
        self._entity_of.pop(device_id, None)
        self._device_of.pop(entity_id, None)

    def _notify(self, change: EntityChange) -> None:
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:
                # One broken subscriber must not starve the others, nor the bus.
                _LOGGER.exception("An entity listener failed on %s", change.entity_id)
