"""The event bus: integrations and the WebSocket API learn of changes here.

``fire`` is synchronous and cheap because it sits on the MQTT ingest hot path: listeners
run inline, coroutine listeners are scheduled as tasks, and an exception in one listener is
logged and never reaches the others or the caller.

The core's event types and the shape of their data are in ``hub/events.py``; ``fire`` and
``listen`` are generic over them, so a type checker knows that a listener of
``DEVICE_STATE_CHANGED`` gets an ``Event[DeviceStateChangedData]``. A plain ``str`` works
as an event type too (automations fire and listen to names chosen in YAML).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic

from hub.events import DataT, EventType
from hub.tasks import wait_all

_LOGGER = logging.getLogger(__name__)

#: Listen to this to receive every event, whatever its type.
MATCH_ALL = "*"


@dataclass(slots=True, frozen=True)
class Event(Generic[DataT]):
    """One fired event; ``data`` is the dict given to ``fire``, shared by every listener.

    Listeners must not change ``data``: the next listener, and the WebSocket API's
    serialisation, see the same object.
    """

    type: EventType[DataT] | str
    data: DataT
    time_fired: float = field(default_factory=time.time)


#: What ``listen`` accepts for events of any type; a coroutine function is scheduled.
Listener = Callable[[Event[Any]], Any]


class EventBus:
    __slots__ = ("_listeners", "_tasks")

    def __init__(self) -> None:
        self._listeners: dict[EventType[Any] | str, list[Listener]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def listen(
        self, event_type: EventType[DataT] | str, listener: Callable[[Event[DataT]], Any]
    ) -> Callable[[], None]:
        """Call ``listener`` for each event of ``event_type`` (or ``MATCH_ALL``).

        Returns the callable that removes it; calling that twice is harmless.
        """
        listeners = self._listeners.setdefault(event_type, [])
        listeners.append(listener)

        def unsubscribe() -> None:
            current = self._listeners.get(event_type)
            if current is not None and listener in current:
                # Replace rather than mutate so a fire() in progress keeps its snapshot.
                self._listeners[event_type] = [item for item in current if item is not listener]

        return unsubscribe

    def fire(self, event_type: EventType[DataT] | str, data: DataT) -> Event[DataT]:
        """Call every listener of ``event_type``, then every ``MATCH_ALL`` listener.

        ``data`` is passed on as it is, not copied: the caller hands it over.
        """
        event = Event(event_type, data)
        for listener in self._listeners.get(event_type, ()):
            self._call(listener, event)
        if event_type != MATCH_ALL:
            for listener in self._listeners.get(MATCH_ALL, ()):
                self._call(listener, event)
        return event

    def listener_count(self, event_type: EventType[Any] | str) -> int:
        return len(self._listeners.get(event_type, ()))

    async def drain(self) -> None:
        """Wait for coroutine listeners still running (used on shutdown and in tests)."""
        await wait_all(self._tasks)

    def _call(self, listener: Listener, event: Event[Any]) -> None:
        try:
            result = listener(event)
        except Exception:
            _LOGGER.exception("Listener %r failed on %s", listener, event.type)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("Listener failed", exc_info=task.exception())
