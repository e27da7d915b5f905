"""The seed's scan lifecycle: the first watcher starts the scan, the last one stops it.

Watchers are WebSocket clients. Candidates accumulate while the scan runs; a client that
joins late gets a replay of the current candidates first, then live updates. When the
last client leaves, the scan stops and the candidates are forgotten, so a later scan
never shows a device that has since left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from plugins.ble_provisioning.candidates import Candidate, CandidateSet
from plugins.ble_provisioning.transport import (
    Advertisement,
    BleError,
    BleTransport,
    BleUnavailable,
)

_LOGGER = logging.getLogger(__name__)

SCAN_STARTED = "started"
SCAN_STOPPED = "stopped"
SCAN_UNAVAILABLE = "unavailable"


class Watcher(Protocol):
    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; must not block (slow clients are the watcher's problem)."""
        ...


class ScanManager:
    def __init__(
        self,
        transport: Callable[[], BleTransport | None],
        candidates: CandidateSet,
        service_uuids: list[str],
        *,
        candidate_ttl: float,
        unavailable_reason: Callable[[], str | None],
        on_unavailable: Callable[[str], None],
        spawn: Callable[[Awaitable[Any], str], asyncio.Task[Any]],
    ) -> None:
        self._transport = transport
        self.candidates = candidates
        self._service_uuids = service_uuids
        self._candidate_ttl = candidate_ttl
        self._unavailable_reason = unavailable_reason
        self._on_unavailable = on_unavailable
        self._spawn = spawn
        self._watchers: list[Watcher] = []
        self._lock = asyncio.Lock()
        self._scanning = False
        self._changed = asyncio.Condition()
        self._sweeper: asyncio.Task[Any] | None = None

    @property
    def scanning(self) -> bool:
        return self._scanning

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    async def wait_until(self, predicate: Callable[[ScanManager], bool]) -> None:
        """Return once ``predicate(self)`` holds (scanning, watcher count); for tests."""
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    async def _notify_change(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _set_scanning(self, scanning: bool) -> None:
        self._scanning = scanning
        await self._notify_change()

    async def add_watcher(self, watcher: Watcher) -> None:
        async with self._lock:
            self._watchers.append(watcher)
            if not self._scanning:
                await self._start()
            watcher.send(self._scan_state())
            for candidate in self.candidates.all():
                watcher.send(candidate_message(candidate))
            await self._notify_change()

    async def remove_watcher(self, watcher: Watcher) -> None:
        async with self._lock:
            if watcher in self._watchers:
                self._watchers.remove(watcher)
            if not self._watchers and self._scanning:
                await self._stop()
            await self._notify_change()

    async def ensure_scanning(self) -> None:
        """Called when Bluetooth comes back: resume the scan if anyone is watching."""
        async with self._lock:
            if self._watchers and not self._scanning:
                await self._start()
                self.broadcast(self._scan_state())

    async def transport_lost(self, reason: str) -> None:
        async with self._lock:
            await self._set_scanning(False)
            self._stop_sweeper()
            self.candidates.clear()
            self.broadcast({"type": "scan", "state": SCAN_UNAVAILABLE, "reason": reason})

    async def shutdown(self) -> None:
        async with self._lock:
            if self._scanning:
                await self._stop()
            self._watchers.clear()

    def broadcast(self, message: dict[str, Any]) -> None:
        for watcher in list(self._watchers):
            watcher.send(message)

    def forget(self, address: str) -> None:
        """Drop a candidate (it was provisioned and will stop advertising)."""
        if self.candidates.remove(address) is not None:
            self.broadcast({"type": "candidate_removed", "address": address})

    def on_advertisement(self, advertisement: Advertisement) -> None:
        if not self._scanning:
            return
        candidate = self.candidates.update(advertisement)
        if candidate is not None:
            self.broadcast(candidate_message(candidate))

    async def _start(self) -> None:
        transport = self._transport()
        if transport is None:
            return
        try:
            await transport.start_scan(self._service_uuids, self.on_advertisement)
        except BleUnavailable as error:
            self._on_unavailable(str(error))
            return
        except BleError as error:
            _LOGGER.warning("BLE scan could not start: %s", error)
            return
        await self._set_scanning(True)
        self._sweeper = self._spawn(self._sweep(), "ble-provisioning-candidate-sweep")

    async def _stop(self) -> None:
        self._stop_sweeper()
        transport = self._transport()
        if transport is not None:
            await transport.stop_scan()
        self.candidates.clear()
        await self._set_scanning(False)

    def _stop_sweeper(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    async def _sweep(self) -> None:
        """Forget devices that stopped advertising (powered off, provisioned elsewhere)."""
        interval = max(self._candidate_ttl / 2, 0.05)
        with contextlib.suppress(asyncio.CancelledError):
            while self._scanning:
                await asyncio.sleep(interval)
                for candidate in self.candidates.expire(self._candidate_ttl):
                    self.broadcast({"type": "candidate_removed", "address": candidate.address})

    def _scan_state(self) -> dict[str, Any]:
        if self._scanning:
            return {"type": "scan", "state": SCAN_STARTED}
        reason = self._unavailable_reason() or "the BLE scan could not be started"
        return {"type": "scan", "state": SCAN_UNAVAILABLE, "reason": reason}


def candidate_message(candidate: Candidate) -> dict[str, Any]:
    return {"type": "candidate", "candidate": candidate.as_dict()}
