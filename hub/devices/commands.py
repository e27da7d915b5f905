"""Commands to devices: recorded, handed to the device's transport, and followed to the end.

A command's life: ``send`` writes it (status ``pending``) through to the database, hands it
to the transport that owns the device, and marks it ``sent``; the device's answer, which
the transport passes to ``result``, makes it ``succeeded`` or ``failed``. Each change of
status fires ``command_status_changed`` and is queued on the batch writer. The last
``KEEP`` commands stay in memory for ``GET /api/commands/{id}`` and for matching answers;
an answer to an older one is refused like an unknown one.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import events
from hub.db import tables
from hub.db.batch_writer import BatchWriter
from hub.devices.models import (
    COMMAND_FAILED,
    COMMAND_PENDING,
    COMMAND_SENT,
    COMMAND_SUCCEEDED,
    Command,
    Device,
    DeviceError,
)
from hub.devices.presence import PresenceMonitor
from hub.event_bus import EventBus
from hub.registrar import Registrations

#: How many recent commands are remembered in memory.
KEEP = 5000


class CommandTracker:
    """Sends commands through transports and applies the devices' answers."""

    def __init__(
        self,
        bus: EventBus,
        engine: AsyncEngine,
        writer: BatchWriter,
        registrations: Registrations,
        presence: PresenceMonitor,
    ) -> None:
        self._bus = bus
        self._engine = engine
        self._writer = writer
        self._registrations = registrations
        self._presence = presence
        # Insertion order is age: the oldest is dropped first.
        self._commands: dict[str, Command] = {}

    def get(self, command_id: str) -> Command | None:
        return self._commands.get(command_id)

    async def send(
        self, device: Device, command: str, params: dict[str, Any] | None, *, source: str
    ) -> Command:
        """Record the command, hand it to the device's transport, and return it.

        Raises DeviceError when no running integration provides the device's transport; a
        transport failure is recorded on the command (status ``failed``) and re-raised.
        """
        transport = self._registrations.transport(device.transport)
        if transport is None:
            raise DeviceError(
                "transport_unavailable",
                f"device {device.external_id} uses transport {device.transport!r}, "
                "which no running integration provides",
            )
        record = Command(uuid.uuid4().hex, device.id, command, dict(params or {}), source=source)
        self._commands[record.id] = record
        while len(self._commands) > KEEP:
            self._commands.pop(next(iter(self._commands)))
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
            self._set_status(record, COMMAND_FAILED, error=f"delivery failed: {error}")
            raise DeviceError("delivery_failed", f"could not deliver command: {error}") from error
        # The answer may have come while the transport was still sending: keep its status.
        if record.status == COMMAND_PENDING:
            self._set_status(record, COMMAND_SENT)
        return record

    def result(
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
        self._presence.seen(device, time.time())
        self._set_status(
            record, COMMAND_SUCCEEDED if ok else COMMAND_FAILED, result=result, error=error
        )
        return True

    def _set_status(
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
        data: events.CommandStatusChangedData = {
            "commandId": record.id,
            "deviceId": record.device_id,
            "command": record.command,
            "status": status,
            "result": result,
            "error": error,
        }
        self._bus.fire(events.COMMAND_STATUS_CHANGED, data)
