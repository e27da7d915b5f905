"""Device triggers indexed by event type and device, so a state message costs two lookups.

One bus listener per event type that any trigger watches (none when no trigger does);
each event is handed only to the triggers watching its device (by hub id or external id,
whichever the automation named) and to those watching every device. With 1,000
automations on other devices, a state message costs the listener call and two dict
lookups (bench/automation_cost.py measures it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hub.event_bus import Event, EventBus
from hub.events import DataT, EventType

_LOGGER = logging.getLogger(__name__)

# Every event indexed here is a device event: its data has "deviceId" and "externalId".
DeviceCallback = Callable[[Event[Any]], None]


class _TypeIndex:
    __slots__ = ("any", "by_device", "unlisten")

    def __init__(self) -> None:
        self.by_device: dict[str, list[DeviceCallback]] = {}
        self.any: list[DeviceCallback] = []
        self.unlisten: Callable[[], None] | None = None


class DeviceIndex:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._types: dict[EventType[Any], _TypeIndex] = {}
        self.errors = 0

    def listen(
        self,
        event_type: EventType[DataT],
        device: str | None,
        callback: Callable[[Event[DataT]], None],
    ) -> Callable[[], None]:
        """Call ``callback`` for ``event_type`` events of ``device`` (None: every device).

        Returns the callable that stops it; the bus listener goes when its last user does.
        """
        index = self._types.get(event_type)
        if index is None:
            index = self._types[event_type] = _TypeIndex()
            index.unlisten = self._bus.listen(event_type, self._dispatcher(index))
        if device is None:
            index.any = [*index.any, callback]
        else:
            index.by_device[device] = [*index.by_device.get(device, ()), callback]

        def remove() -> None:
            if device is None:
                index.any = [item for item in index.any if item is not callback]
            else:
                left = [item for item in index.by_device.get(device, ()) if item is not callback]
                if left:
                    index.by_device[device] = left
                else:
                    index.by_device.pop(device, None)
            if not index.any and not index.by_device and self._types.get(event_type) is index:
                del self._types[event_type]
                if index.unlisten is not None:
                    index.unlisten()

        return remove

    def _dispatcher(self, index: _TypeIndex) -> Callable[[Event[Any]], None]:
        by_device = index.by_device
        get = by_device.get

        def dispatch(event: Event[Any]) -> None:
            # The ingest hot path: two dict lookups, and nothing else unless one matched.
            data = event.data
            found = get(data["deviceId"])
            more = get(data.get("externalId"))
            if more is not None:
                found = more if found is None else [*found, *more]
            if index.any:
                found = index.any if found is None else [*found, *index.any]
            if found is not None:
                for callback in found:
                    try:
                        callback(event)
                    except Exception:
                        # A trigger's bug must not reach the transport that reported it.
                        self.errors += 1
                        _LOGGER.exception("Automation trigger failed on %s", event.type)

        return dispatch
