"""Presence: which devices are online, learnt from what they send and from their silence.

Any message from a device (a state, an event, a heartbeat, a command result, a handshake)
marks it online and records when it was last seen; a device silent for longer than
``offline_after`` seconds (``hub: presence:`` heartbeat_interval times missed_heartbeats) is
marked offline by a sweep that runs a few times per interval. Every change of ``online``
fires ``device_presence_changed`` and queues the new value on the batch writer.

``seen`` runs for every ingested message, so while the device stays online it only
touches memory; it writes (through the batch writer) only when the device comes online.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping

from hub import events
from hub.db import tables
from hub.db.batch_writer import BatchWriter
from hub.devices.models import Device
from hub.event_bus import EventBus
from hub.timestamps import iso


class PresenceMonitor:
    """Keeps ``Device.online`` and ``Device.last_seen`` true for the registry's devices."""

    def __init__(
        self,
        bus: EventBus,
        writer: BatchWriter,
        devices: Mapping[str, Device],
        *,
        offline_after: float,
    ) -> None:
        self._bus = bus
        self._writer = writer
        # The registry's own index (not a copy), so a sweep sees devices added since.
        self._devices = devices
        self.offline_after = offline_after
        #: Bumped by every change a device listing would show (``last_seen``, ``online``);
        #: part of ``DeviceRegistry.version``.
        self.changes = 0
        self._task: asyncio.Task[None] | None = None

    def seen(self, device: Device, now: float) -> None:
        """A message from ``device`` arrived at ``now``: it is online."""
        self.changes += 1
        device.last_seen = now
        if not device.online:
            device.online = True
            self._writer.update(tables.devices, device.id, {"online": True, "last_seen": now})
            self.announce(device)

    def heartbeat(self, device: Device, *, rssi: int | None = None) -> None:
        """A heartbeat says nothing but "still here" (and, optionally, the signal level)."""
        if rssi is not None:
            device.rssi = rssi
        self.seen(device, time.time())

    def set_offline(self, device: Device) -> None:
        """Mark ``device`` offline now (its silence was noticed, or its transport lost it)."""
        self.changes += 1
        if device.online:
            device.online = False
            self._writer.update(tables.devices, device.id, {"online": False})
            self.announce(device)

    def announce(self, device: Device) -> None:
        """Fire ``device_presence_changed`` with the device's current presence.

        Public for the handshake, which writes ``online`` through to the database itself.
        """
        data: events.DevicePresenceChangedData = {
            "deviceId": device.id,
            "externalId": device.external_id,
            "online": device.online,
            "lastSeen": iso(device.last_seen),
        }
        self._bus.fire(events.DEVICE_PRESENCE_CHANGED, data)

    def sweep(self, now: float) -> None:
        """Mark offline every device silent for longer than ``offline_after``."""
        for device in self._devices.values():
            if device.online and (device.last_seen or 0) < now - self.offline_after:
                self.set_offline(device)

    # ---- the sweeping task -----------------------------------------------------------

    def start(self) -> None:
        """Sweep in the background from now on; calling it again changes nothing."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        # Four sweeps per allowed silence: a device is marked offline at most a quarter
        # of ``offline_after`` late.
        interval = max(0.05, self.offline_after / 4)
        while True:
            await asyncio.sleep(interval)
            self.sweep(time.time())
