"""What GET /api/cloud/status reports, kept current by the connection loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.timestamps import iso
from plugins.cloud_link.const import (
    STATE_AUTH_FAILED,
    STATE_BACKOFF,
    STATE_CONNECTED,
    STATE_NOT_CONFIGURED,
)


@dataclass(slots=True)
class LinkStatus:
    state: str = STATE_NOT_CONFIGURED
    claimed_at: float | None = None
    last_error: str | None = None
    # Monotonic time of the next attempt while in backoff or auth_failed.
    retry_at: float | None = None
    connected_since: float | None = None
    connections: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def enter(self, state: str, *, error: str | None = None, retry_at: float | None = None) -> None:
        self.state = state
        if error is not None:
            self.last_error = error
        self.retry_at = retry_at if state in (STATE_BACKOFF, STATE_AUTH_FAILED) else None
        if state == STATE_CONNECTED:
            self.connected_since = time.time()
            self.connections += 1
        else:
            self.connected_since = None
        # Wake everyone waiting on the old event; later waiters get a fresh one.
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[LinkStatus], bool]) -> None:
        """Wait until ``predicate(status)`` holds (tests, and callers that need the link)."""
        while True:
            changed = self._changed
            if predicate(self):
                return
            await changed.wait()

    def as_dict(self, active_channels: tuple[str, ...], now: float) -> dict[str, Any]:
        """``now`` is the event loop's clock, the one ``retry_at`` was set with."""
        next_retry = None
        if self.retry_at is not None:
            next_retry = round(max(0.0, self.retry_at - now), 3)
        return {
            "state": self.state,
            "claimedAt": iso(self.claimed_at),
            "activeChannels": list(active_channels),
            "lastError": self.last_error,
            "nextRetryIn": next_retry,
            "connectedSince": iso(self.connected_since),
            "connections": self.connections,
        }
