"""The event bus: integrations and the WebSocket API learn of changes here.

``fire`` is synchronous and cheap because it sits on the MQTT ingest hot path: listeners
run inline, coroutine listeners are scheduled as tasks, and an exception in one listener is
logged and never reaches the others or the caller.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.tasks import wait_all

_LOGGER = logging.getLogger(__name__)

MATCH_ALL = "*"

# Event types fired by the core's device domain.
DEVICE_REGISTERED = "device_registered"
DEVICE_STATE_CHANGED = "device_state_changed"
DEVICE_EVENT = "device_event"
DEVICE_PRESENCE_CHANGED = "device_presence_changed"
COMMAND_STATUS_CHANGED = "command_status_changed"
DEVICE_REMOVED = "device_removed"
DEVICE_UPDATED = "device_updated"
HUB_STARTED = "hub_started"
# A principal's right to its live sessions ended (an auth scheme fires it):
# {"kind": principal kind, "id": principal id, "reason": short text,
#  "credentialId": optional, only sockets opened with that credential}. Every socket
# owner closes the matching sockets with hub.auth.CLOSE_SESSION_REVOKED.
SESSIONS_REVOKED = "sessions_revoked"
HUB_STOPPING = "hub_stopping"


@dataclass(slots=True, frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    time_fired: float = field(default_factory=time.time)


Listener = Callable[[Event], Any]


class EventBus:
    __slots__ = ("_listeners", "_tasks")

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def listen(self, event_type: str, listener: Listener) -> Callable[[], None]:
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

    def fire(self, event_type: str, data: dict[str, Any]) -> Event:
        event = Event(event_type, data)
        for listener in self._listeners.get(event_type, ()):
            self._call(listener, event)
        if event_type != MATCH_ALL:
            for listener in self._listeners.get(MATCH_ALL, ()):
                self._call(listener, event)
        return event

    def listener_count(self, event_type: str) -> int:
        return len(self._listeners.get(event_type, ()))

    async def drain(self) -> None:
        """Wait for coroutine listeners still running (used on shutdown and in tests)."""
        await wait_all(self._tasks)

    def _call(self, listener: Listener, event: Event) -> None:
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
