"""The device registry: the one place device state lives, and the ingest hot path.

Reading order for a state message: a transport calls ``report_state`` → memory is updated
→ ``device_state_changed`` fires → a history row is queued on the batch writer. Nothing on
that path awaits the database; handshakes and commands, which are rare, write through.
A transport that must know when a report is durable (MQTT acknowledges QoS 1 only then)
asks ``when_durable``.

The registry keeps the index of devices (by id, external id and token) and the ingest;
it composes three parts, each in its own module. The methods integrations call
(``heartbeat``, ``send_command``, ``command_result``, ...) stay here as one-line
delegations, so ``hub.devices`` is the one object an integration talks to; the history
pages, read only by the core's routes, are the part itself (``hub.devices.history``):

- ``presence.py``, ``PresenceMonitor``: online/offline and ``last_seen``;
- ``commands.py``, ``CommandTracker``: commands sent, and the devices' answers;
- ``history.py``, ``DeviceHistory``: pages of past states and events.

A state that carries an integer ``seq`` (increasing per device, restarting after a
handshake) is recognised when it comes again: a ``seq`` not above the last one applied is
a redelivery (a message committed but not acknowledged before a crash) and records
nothing. The last ``seq`` survives a restart inside the device's latest state, which is
committed together with its history row; a handshake removes it from there.
"""

from __future__ import annotations

import bisect
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import events
from hub.db import tables
from hub.db.batch_writer import BatchWriter
from hub.devices.commands import CommandTracker
from hub.devices.history import DeviceHistory
from hub.devices.models import Command, Device, DeviceError, DeviceType
from hub.devices.presence import PresenceMonitor
from hub.event_bus import EventBus
from hub.registrar import Registrations

__all__ = ["STATE_SEQ_WINDOW", "DeviceError", "DeviceRegistry"]

# How far below the last applied state ``seq`` a repeat is still taken for a redelivery:
# everything the broker may resend after a crash (Mosquitto 2.0 was seen with ~35 000
# unacknowledged messages at once; devices may number seqs sparsely).
STATE_SEQ_WINDOW = 100_000_000


class DeviceRegistry:
    """Every device, its latest state, and the reports that change it (``hub.devices``)."""

    def __init__(
        self,
        bus: EventBus,
        engine: AsyncEngine,
        registrations: Registrations,
        writer: BatchWriter,
        *,
        offline_after: float = 90.0,
    ) -> None:
        self._bus = bus
        self._engine = engine
        self._registrations = registrations
        self._writer = writer
        self._devices: dict[str, Device] = {}
        self._by_external: dict[str, Device] = {}
        self._by_token: dict[str, str] = {}
        self._types: dict[str, DeviceType] = {}
        self._presence = PresenceMonitor(bus, writer, self._devices, offline_after=offline_after)
        self._commands = CommandTracker(bus, engine, writer, registrations, self._presence)
        #: Pages of past states and events (``states_page``, ``events_page``).
        self.history = DeviceHistory(engine, writer)
        # Bound once, not looked up through ``_presence`` for every ingested message.
        self._seen = self._presence.seen
        # The ``seq`` of each device's last applied state, for recognising redeliveries.
        self._state_seqs: dict[str, int] = {}
        # Device ids in order, for paging; rebuilt lazily after a device is added or
        # removed (rare), never on state changes (constant).
        self._sorted_ids: list[str] | None = None
        # Changes of the index and of names; ``version`` adds the presence monitor's.
        self._changes = 0
        self.duplicate_states = 0

    @property
    def version(self) -> int:
        """Bumped by every change a device listing would show; lets the API reuse its last
        rendering while nothing changed (the portal polls far more than devices change
        when the site is quiet). A sum of two counters that only grow, so it grows too.
        """
        return self._changes + self._presence.changes

    # ---- lifecycle -------------------------------------------------------------------

    async def load(self) -> None:
        """Read the known devices and types back from the database, once, at start."""
        async with self._engine.connect() as connection:
            for row in (await connection.execute(sa.select(tables.device_types))).mappings():
                self._types[row["name"]] = DeviceType(
                    row["name"], row["description"], row["capabilities"], row["commands"]
                )
            for row in (await connection.execute(sa.select(tables.devices))).mappings():
                device = Device(
                    id=row["id"],
                    external_id=row["external_id"],
                    name=row["name"],
                    type=row["type"],
                    transport=row["transport"],
                    firmware=row["firmware"],
                    capabilities=list(row["capabilities"] or []),
                    state=dict(row["state"] or {}),
                    # Presence is re-learnt from heartbeats; a restart must not claim
                    # devices are online that have gone silent meanwhile.
                    online=False,
                    last_seen=row["last_seen"],
                    handshaken=row["handshaken"],
                    created_at=row["created_at"],
                )
                self._index(device, row["token_hash"])
                seq = device.state.get("seq")
                if type(seq) is int:
                    self._state_seqs[device.id] = seq
            recent = await connection.execute(
                sa.select(tables.device_events.c.device_id, tables.device_events.c.seq)
                .where(tables.device_events.c.seq.is_not(None))
                .order_by(tables.device_events.c.id.desc())
                .limit(20_000)
            )
            for device_id, seq in reversed(recent.all()):
                known = self._devices.get(device_id)
                if known is not None:
                    known.recent_event_seqs.append(seq)

    def start_presence_monitor(self) -> None:
        """Start marking silent devices offline (``Hub.start`` calls it after ``load``)."""
        self._presence.start()

    async def stop(self) -> None:
        """Stop the presence sweeps; the batch writer is the hub's to flush and stop."""
        await self._presence.stop()

    async def flush(self) -> None:
        await self._writer.flush()

    def when_durable(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once every report made so far is committed to the database."""
        self._writer.after_commit(callback)

    @property
    def behind(self) -> bool:
        """History writes are far behind; a transport may shed what it is allowed to."""
        return self._writer.behind

    # ---- lookups ---------------------------------------------------------------------

    def get(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    def by_external_id(self, external_id: str) -> Device | None:
        return self._by_external.get(external_id)

    def by_token_digest(self, digest: str) -> Device | None:
        device_id = self._by_token.get(digest)
        return self._devices.get(device_id) if device_id else None

    def all(self) -> list[Device]:
        return list(self._devices.values())

    def __len__(self) -> int:
        return len(self._devices)

    def page(self, *, after: str | None, limit: int) -> list[Device]:
        """Up to ``limit`` devices in id order, starting after the id ``after``.

        A device added or removed between two pages neither shifts nor repeats the
        others: the position is an id, not an offset.
        """
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self._devices)
        ids = self._sorted_ids
        start = 0 if after is None else bisect.bisect_right(ids, after)
        found: list[Device] = []
        for index in range(start, len(ids)):
            device = self._devices.get(ids[index])
            if device is not None:
                found.append(device)
                if len(found) >= limit:
                    break
        return found

    def device_types(self) -> list[DeviceType]:
        merged = dict(self._types)
        for _owner, device_type in self._registrations.device_types.values():
            merged[device_type.name] = device_type
        return sorted(merged.values(), key=lambda item: item.name)

    def command(self, command_id: str) -> Command | None:
        """A recent command, by id (the last ``hub.devices.commands.KEEP`` are remembered)."""
        return self._commands.get(command_id)

    # ---- writes through (rare) -------------------------------------------------------

    async def handshake(
        self,
        external_id: str,
        *,
        device_type: str,
        firmware: str | None = None,
        capabilities: Iterable[str] = (),
        commands: Iterable[str] = (),
        transport: str,
        name: str | None = None,
    ) -> Device:
        """Create or refresh a device; the only way a device starts to exist.

        ``commands`` are those the device says it accepts: they are added to its type's
        list (a type an integration registered keeps its own)."""
        now = time.time()
        capabilities = [str(item) for item in capabilities]
        device = self._by_external.get(external_id)
        created = device is None
        if device is None:
            device = Device(
                id=uuid.uuid4().hex,
                external_id=external_id,
                name=name or external_id,
                type=device_type,
                transport=transport,
            )
        was_online = device.online
        device.type = device_type
        device.firmware = firmware
        device.capabilities = capabilities
        device.transport = transport
        device.online = True
        device.last_seen = now
        device.handshaken = True
        # A handshake starts a new device session: its event counter may restart.
        device.recent_event_seqs.clear()
        # ... and so may its state counter: forget the old one, in memory and in the stored
        # latest state (from which a restart would read it back).
        if self._state_seqs.pop(device.id, None) is not None or "seq" in device.state:
            device.state = {key: value for key, value in device.state.items() if key != "seq"}
        await self._ensure_type(device_type, capabilities, [str(item) for item in commands])
        values = {
            "external_id": device.external_id,
            "name": device.name,
            "type": device.type,
            "transport": device.transport,
            "firmware": device.firmware,
            "capabilities": device.capabilities,
            "online": True,
            "last_seen": now,
            "handshaken": True,
            "state": device.state,
        }
        async with self._engine.begin() as connection:
            if created:
                await connection.execute(
                    sa.insert(tables.devices).values(
                        id=device.id, created_at=device.created_at, **values
                    )
                )
            else:
                await connection.execute(
                    sa.update(tables.devices).where(tables.devices.c.id == device.id).values(values)
                )
        self._index(device, None)
        if created:
            registered: events.DeviceRegisteredData = {"device": device.as_dict()}
            self._bus.fire(events.DEVICE_REGISTERED, registered)
        if not was_online:
            self._presence.announce(device)
        return device

    async def expect_device(
        self,
        external_id: str,
        *,
        token_digest: str,
        name: str | None = None,
        device_type: str = "unknown",
        transport: str = "mqtt",
    ) -> Device:
        """Pre-register a provisioned device so its device token works before handshake."""
        device = self._by_external.get(external_id)
        async with self._engine.begin() as connection:
            if device is None:
                device = Device(
                    id=uuid.uuid4().hex,
                    external_id=external_id,
                    name=name or external_id,
                    type=device_type,
                    transport=transport,
                )
                await connection.execute(
                    sa.insert(tables.devices).values(
                        id=device.id,
                        external_id=external_id,
                        name=device.name,
                        type=device_type,
                        transport=transport,
                        capabilities=[],
                        state={},
                        online=False,
                        handshaken=False,
                        token_hash=token_digest,
                        created_at=device.created_at,
                    )
                )
            else:
                await connection.execute(
                    sa.update(tables.devices)
                    .where(tables.devices.c.id == device.id)
                    .values(token_hash=token_digest)
                )
        for digest, device_id in list(self._by_token.items()):
            if device_id == device.id:
                del self._by_token[digest]
        self._index(device, token_digest)
        return device

    async def rename(self, device_id: str, name: str) -> Device | None:
        """Give a device the name people see; a later handshake keeps it."""
        device = self._devices.get(device_id)
        if device is None:
            return None
        async with self._engine.begin() as connection:
            await connection.execute(
                sa.update(tables.devices).where(tables.devices.c.id == device_id).values(name=name)
            )
        device.name = name
        self._changes += 1
        updated: events.DeviceUpdatedData = {"device": device.as_dict()}
        self._bus.fire(events.DEVICE_UPDATED, updated)
        return device

    async def remove(self, device_id: str) -> bool:
        """Forget a device with its history, events and commands; False if unknown."""
        device = self._devices.pop(device_id, None)
        if device is None:
            return False
        self._sorted_ids = None
        self._changes += 1
        self._by_external.pop(device.external_id, None)
        self._state_seqs.pop(device_id, None)
        for digest, owner in list(self._by_token.items()):
            if owner == device_id:
                del self._by_token[digest]
        await self._writer.flush()
        async with self._engine.begin() as connection:
            for table in (tables.device_state_history, tables.device_events, tables.commands):
                await connection.execute(sa.delete(table).where(table.c.device_id == device_id))
            await connection.execute(
                sa.delete(tables.devices).where(tables.devices.c.id == device_id)
            )
        removed: events.DeviceRemovedData = {"deviceId": device_id}
        self._bus.fire(events.DEVICE_REMOVED, removed)
        return True

    # ---- hot path --------------------------------------------------------------------

    def report_state(self, device: Device, state: dict[str, Any]) -> bool:
        """Replace the device's state; fire and record only when it really changed.

        False also for a redelivered state (its ``seq`` was applied already).
        """
        now = time.time()
        self._seen(device, now)
        seq = state.get("seq")
        if type(seq) is int:
            last = self._state_seqs.get(device.id)
            if last is not None and last - STATE_SEQ_WINDOW < seq <= last:
                self.duplicate_states += 1
                return False
            self._state_seqs[device.id] = seq
        if state == device.state:
            self._writer.update(tables.devices, device.id, {"last_seen": now})
            return False
        old_state = device.state
        device.state = state
        self._writer.insert(
            tables.device_state_history,
            {"device_id": device.id, "state": state, "recorded_at": now},
        )
        self._writer.update(tables.devices, device.id, {"state": state, "last_seen": now})
        changed: events.DeviceStateChangedData = {
            "deviceId": device.id,
            "externalId": device.external_id,
            "state": state,
            "oldState": old_state,
        }
        self._bus.fire(events.DEVICE_STATE_CHANGED, changed)
        return True

    def report_event(
        self, device: Device, event_type: str, data: Any = None, seq: int | None = None
    ) -> bool:
        """Record a device event; False when ``seq`` repeats one already accepted."""
        now = time.time()
        self._seen(device, now)
        if seq is not None:
            if seq in device.recent_event_seqs:
                return False
            device.recent_event_seqs.append(seq)
        self._writer.insert(
            tables.device_events,
            {
                "device_id": device.id,
                "type": event_type,
                "data": data,
                "seq": seq,
                "recorded_at": now,
            },
        )
        reported: events.DeviceEventData = {
            "deviceId": device.id,
            "externalId": device.external_id,
            "type": event_type,
            "data": data,
            "seq": seq,
        }
        self._bus.fire(events.DEVICE_EVENT, reported)
        return True

    # ---- presence (presence.py) -----------------------------------------------------

    def heartbeat(self, device: Device, *, rssi: int | None = None) -> None:
        """The device is alive (and, optionally, how well it hears its access point)."""
        self._presence.heartbeat(device, rssi=rssi)

    def set_offline(self, device: Device) -> None:
        """Mark ``device`` offline now, e.g. when its transport knows it is gone."""
        self._presence.set_offline(device)

    def sweep_presence(self, now: float) -> None:
        """Mark offline every device silent for longer than ``offline_after``."""
        self._presence.sweep(now)

    # ---- commands (commands.py) ------------------------------------------------------

    async def send_command(
        self,
        device_id: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        source: str = "api",
    ) -> Command:
        """Record the command, hand it to the device's transport, and return it.

        Raises DeviceError when the device or its transport is unknown; a transport
        failure is recorded on the command (status ``failed``) and re-raised.
        """
        device = self._devices.get(device_id)
        if device is None:
            raise DeviceError("device_not_found", f"no device with id {device_id}")
        return await self._commands.send(device, command, params, source=source)

    def command_result(
        self,
        device: Device,
        command_id: str,
        ok: bool,
        result: Any = None,
        error: str | None = None,
    ) -> bool:
        """Apply a device's answer; False when the command is unknown or not the device's."""
        return self._commands.result(device, command_id, ok, result, error)

    # ---- internals -----------------------------------------------------------------

    def _index(self, device: Device, token_digest: str | None) -> None:
        self._changes += 1
        if device.id not in self._devices:
            self._sorted_ids = None
        self._devices[device.id] = device
        self._by_external[device.external_id] = device
        if token_digest:
            self._by_token[token_digest] = device.id

    async def _ensure_type(self, name: str, capabilities: list[str], commands: list[str]) -> None:
        """Record a type first seen in a handshake; later handshakes may add commands."""
        if name in self._registrations.device_types:
            return
        known = self._types.get(name)
        if known is not None:
            added = [command for command in commands if command not in known.commands]
            if added:
                known.commands = [*known.commands, *added]
                async with self._engine.begin() as connection:
                    await connection.execute(
                        sa.update(tables.device_types)
                        .where(tables.device_types.c.name == name)
                        .values(commands=list(known.commands))
                    )
            return
        device_type = DeviceType(name, "", list(capabilities), list(commands))
        self._types[name] = device_type
        async with self._engine.begin() as connection:
            await connection.execute(
                sa.insert(tables.device_types).values(
                    name=name,
                    description="",
                    capabilities=list(capabilities),
                    commands=list(commands),
                )
            )
