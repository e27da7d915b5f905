"""The device registry: the one place device state lives, and the ingest hot path.

Reading order for a state message: a transport calls ``report_state`` → memory is updated
→ ``device_state_changed`` fires → a history row is queued on the batch writer. Nothing on
that path awaits the database; handshakes and commands, which are rare, write through.
A transport that must know when a report is durable (MQTT acknowledges QoS 1 only then)
asks ``when_durable``.

A state that carries an integer ``seq`` (increasing per device, restarting after a
handshake) is recognised when it comes again: a ``seq`` not above the last one applied is
a redelivery (a message committed but not acknowledged before a crash) and records
nothing. The last ``seq`` survives a restart inside the device's latest state, which is
committed together with its history row; a handshake removes it from there.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import sqlalchemy as sa

from hub import events
from hub.db import tables
from hub.db.batch_writer import BatchWriter
from hub.devices.models import (
    COMMAND_FAILED,
    COMMAND_SENT,
    COMMAND_SUCCEEDED,
    Command,
    Device,
    DeviceType,
)
from hub.event_bus import EventBus
from hub.registrar import Registrations
from hub.timestamps import iso

_LOGGER = logging.getLogger(__name__)

# How far below the last applied state ``seq`` a repeat is still taken for a redelivery:
# everything the broker may resend after a crash (Mosquitto 2.0 was seen with ~35 000
# unacknowledged messages at once; devices may number seqs sparsely).
STATE_SEQ_WINDOW = 100_000_000


class DeviceError(Exception):
    """A device operation that cannot be done; ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DeviceRegistry:
    def __init__(
        self,
        bus: EventBus,
        engine: Any,
        registrations: Registrations,
        writer: BatchWriter,
        *,
        offline_after: float = 90.0,
    ) -> None:
        self._bus = bus
        self._engine = engine
        self._registrations = registrations
        self._writer = writer
        self.offline_after = offline_after
        self._devices: dict[str, Device] = {}
        self._by_external: dict[str, Device] = {}
        self._by_token: dict[str, str] = {}
        self._types: dict[str, DeviceType] = {}
        self._commands: dict[str, Command] = {}
        self._presence_task: asyncio.Task[None] | None = None
        # The ``seq`` of each device's last applied state, for recognising redeliveries.
        self._state_seqs: dict[str, int] = {}
        # Device ids in order, for paging; rebuilt lazily after a device is added or
        # removed (rare), never on state changes (constant).
        self._sorted_ids: list[str] | None = None
        # Bumped by every change a device listing would show; lets the API reuse its
        # last rendering while nothing changed (the portal polls far more than devices
        # change when the site is quiet).
        self.version = 0
        self.duplicate_states = 0

    # ---- lifecycle -------------------------------------------------------------------

    async def load(self) -> None:
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
                device = self._devices.get(device_id)
                if device is not None:
                    device.recent_event_seqs.append(seq)

    def start_presence_monitor(self) -> None:
        if self._presence_task is None:
            self._presence_task = asyncio.create_task(self._watch_presence(), name="presence")

    async def stop(self) -> None:
        if self._presence_task is not None:
            self._presence_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._presence_task
            self._presence_task = None

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
            self._bus.fire(events.DEVICE_REGISTERED, {"device": device.as_dict()})
        if not was_online:
            self._fire_presence(device)
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
        self.version += 1
        self._bus.fire(events.DEVICE_UPDATED, {"device": device.as_dict()})
        return device

    async def remove(self, device_id: str) -> bool:
        device = self._devices.pop(device_id, None)
        if device is None:
            return False
        self._sorted_ids = None
        self.version += 1
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
        self._bus.fire(events.DEVICE_REMOVED, {"deviceId": device_id})
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
        self._bus.fire(
            events.DEVICE_STATE_CHANGED,
            {
                "deviceId": device.id,
                "externalId": device.external_id,
                "state": state,
                "oldState": old_state,
            },
        )
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
        self._bus.fire(
            events.DEVICE_EVENT,
            {
                "deviceId": device.id,
                "externalId": device.external_id,
                "type": event_type,
                "data": data,
                "seq": seq,
            },
        )
        return True

    def heartbeat(self, device: Device, *, rssi: int | None = None) -> None:
        if rssi is not None:
            device.rssi = rssi
        self._seen(device, time.time())

    def set_offline(self, device: Device) -> None:
        self.version += 1
        if device.online:
            device.online = False
            self._writer.update(tables.devices, device.id, {"online": False})
            self._fire_presence(device)

    def _seen(self, device: Device, now: float) -> None:
        self.version += 1
        device.last_seen = now
        if not device.online:
            device.online = True
            self._writer.update(tables.devices, device.id, {"online": True, "last_seen": now})
            self._fire_presence(device)

    def _fire_presence(self, device: Device) -> None:
        self._bus.fire(
            events.DEVICE_PRESENCE_CHANGED,
            {
                "deviceId": device.id,
                "externalId": device.external_id,
                "online": device.online,
                "lastSeen": iso(device.last_seen),
            },
        )

    async def _watch_presence(self) -> None:
        interval = max(0.05, self.offline_after / 4)
        while True:
            await asyncio.sleep(interval)
            self.sweep_presence(time.time())

    def sweep_presence(self, now: float) -> None:
        """Mark offline every device silent for longer than ``offline_after``."""
        for device in self._devices.values():
            if device.online and (device.last_seen or 0) < now - self.offline_after:
                self.set_offline(device)

    # ---- commands --------------------------------------------------------------------

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
        transport = self._registrations.transport(device.transport)
        if transport is None:
            raise DeviceError(
                "transport_unavailable",
                f"device {device.external_id} uses transport {device.transport!r}, "
                "which no running integration provides",
            )
        record = Command(uuid.uuid4().hex, device.id, command, dict(params or {}), source=source)
        self._commands[record.id] = record
        self._trim_commands()
        async with self._engine.begin() as connection:
            await connection.execute(
                sa.insert(tables.commands).values(
                    id=record.id,
                    device_id=record.device_id,
                    command=record.command,
                    params=record.params,
                    status=record.status,
                    source=record.source,
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                )
            )
        try:
            await transport.send_command(device, record)
        except Exception as error:
            self._set_command_status(record, COMMAND_FAILED, error=f"delivery failed: {error}")
            raise DeviceError("delivery_failed", f"could not deliver command: {error}") from error
        if record.status == "pending":
            self._set_command_status(record, COMMAND_SENT)
        return record

    def command_result(
        self,
        device: Device,
        command_id: str,
        ok: bool,
        result: Any = None,
        error: str | None = None,
    ) -> bool:
        """Apply a device's answer; False when the command is unknown or not the device's."""
        record = self._commands.get(command_id)
        if record is None or record.device_id != device.id:
            return False
        self._seen(device, time.time())
        self._set_command_status(
            record, COMMAND_SUCCEEDED if ok else COMMAND_FAILED, result=result, error=error
        )
        return True

    def _set_command_status(
        self, record: Command, status: str, *, result: Any = None, error: str | None = None
    ) -> None:
        record.status = status
        record.result = result
        record.error = error
        record.updated_at = time.time()
        self._writer.update(
            tables.commands,
            record.id,
            {"status": status, "result": result, "error": error, "updated_at": record.updated_at},
        )
        self._bus.fire(
            events.COMMAND_STATUS_CHANGED,
            {
                "commandId": record.id,
                "deviceId": record.device_id,
                "command": record.command,
                "status": status,
                "result": result,
                "error": error,
            },
        )

    def _trim_commands(self, keep: int = 5000) -> None:
        while len(self._commands) > keep:
            self._commands.pop(next(iter(self._commands)))

    # ---- history -------------------------------------------------------------------

    async def history(
        self, device_id: str, *, limit: int = 100, before: float | None = None
    ) -> list[dict[str, Any]]:
        """Newest first; ``before`` pages by timestamp (exclusive)."""
        items, _more = await self.history_page(device_id, limit=limit, before=before)
        return items

    async def history_page(
        self,
        device_id: str,
        *,
        limit: int = 100,
        before: float | None = None,
        max_bytes: int | None = None,
        chunk: int = 100,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` entries, newest first, and whether older ones remain.

        With ``max_bytes`` the page also ends once the states read add up to that many
        bytes (never before one entry): a state may be 64 KiB, so 1000 of them would be
        64 MB. Rows are read ``chunk`` at a time, so memory follows the page, not ``limit``.
        """
        table = tables.device_state_history

        def item(row: sa.Row[Any]) -> tuple[dict[str, Any], int]:
            encoded = orjson.dumps(row.state, option=orjson.OPT_NON_STR_KEYS)
            return {"state": row.state, "recordedAt": iso(row.recorded_at)}, len(encoded) + 48

        return await self._newest_first(
            table,
            (table.c.state,),
            item,
            device_id,
            limit=limit,
            before=before,
            max_bytes=max_bytes,
            chunk=chunk,
        )

    async def events_page(
        self,
        device_id: str,
        *,
        limit: int = 100,
        before: float | None = None,
        max_bytes: int | None = None,
        chunk: int = 100,
    ) -> tuple[list[dict[str, Any]], bool]:
        """A device's past events, newest first, paged exactly as ``history_page`` pages
        states: the portal shows what happened before it was opened, not only live events.

        ``max_bytes`` bounds the page as there: an event's ``data`` is whatever the device
        sent, so its size, not ``limit``, is what must stay bounded.
        """
        table = tables.device_events

        def item(row: sa.Row[Any]) -> tuple[dict[str, Any], int]:
            encoded = orjson.dumps(row.data, option=orjson.OPT_NON_STR_KEYS)
            entry = {
                "type": row.type,
                "data": row.data,
                "seq": row.seq,
                "recordedAt": iso(row.recorded_at),
            }
            return entry, len(encoded) + len(row.type) + 96

        return await self._newest_first(
            table,
            (table.c.type, table.c.data, table.c.seq),
            item,
            device_id,
            limit=limit,
            before=before,
            max_bytes=max_bytes,
            chunk=chunk,
        )

    async def _newest_first(
        self,
        table: sa.Table,
        columns: tuple[sa.ColumnElement[Any], ...],
        item: Callable[[sa.Row[Any]], tuple[dict[str, Any], int]],
        device_id: str,
        *,
        limit: int,
        before: float | None,
        max_bytes: int | None,
        chunk: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of a device's rows in ``table`` (``recorded_at`` then ``id``, newest
        first) and whether older ones remain; ``item`` turns a row into an entry and its
        size in bytes. Shared so history and events page, and are bounded, the same way.

        Within a page the walk continues from the last (time, id) read, so a chunk boundary
        between rows of the same time neither repeats nor skips one.
        """
        await self._writer.flush()
        items: list[dict[str, Any]] = []
        size = 0
        after_key: tuple[float, int] | None = None
        async with self._engine.connect() as connection:
            while len(items) < limit:
                query = sa.select(table.c.id, table.c.recorded_at, *columns).where(
                    table.c.device_id == device_id
                )
                if before is not None:
                    query = query.where(table.c.recorded_at < before)
                if after_key is not None:
                    at, row_id = after_key
                    query = query.where(
                        sa.or_(
                            table.c.recorded_at < at,
                            sa.and_(table.c.recorded_at == at, table.c.id < row_id),
                        )
                    )
                wanted = min(chunk, limit - len(items))
                query = query.order_by(table.c.recorded_at.desc(), table.c.id.desc()).limit(
                    wanted + 1
                )
                rows = (await connection.execute(query)).all()
                for row in rows[:wanted]:
                    entry, entry_size = item(row)
                    if max_bytes is not None:
                        size += entry_size
                        if items and size > max_bytes:
                            return items, True
                    items.append(entry)
                    after_key = (row.recorded_at, row.id)
                if len(rows) <= wanted:
                    return items, False
        return items, True

    # ---- internals -----------------------------------------------------------------

    def _index(self, device: Device, token_digest: str | None) -> None:
        self.version += 1
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
