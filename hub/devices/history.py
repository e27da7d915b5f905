"""A device's past, read back: its state history and its events, newest first, in pages.

Both are written by the ingest path (``DeviceRegistry.report_state`` / ``report_event``
queue the rows on the batch writer); this module only reads them, for
``GET /api/devices/{id}/history`` and ``/events``. Both walk the same way and are bounded
the same way, in entries and in bytes: a state or an event's data is whatever the device
sent (up to 64 KiB), so a page's size, not only its length, must stay bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import tables
from hub.db.batch_writer import BatchWriter
from hub.timestamps import iso

#: One page: the entries, newest first, and whether older ones remain.
Page = tuple[list[dict[str, Any]], bool]


class DeviceHistory:
    """Pages of a device's recorded states and events."""

    def __init__(self, engine: AsyncEngine, writer: BatchWriter) -> None:
        self._engine = engine
        self._writer = writer

    async def states_page(
        self,
        device_id: str,
        *,
        limit: int = 100,
        before: float | None = None,
        max_bytes: int | None = None,
        chunk: int = 100,
    ) -> Page:
        """Up to ``limit`` states (``{state, recordedAt}``), newest first, recorded before
        ``before`` (exclusive), and whether older ones remain.

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
    ) -> Page:
        """A device's past events (``{type, data, seq, recordedAt}``), paged exactly as
        ``states_page`` pages states: the portal shows what happened before it was opened,
        not only live events.

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
    ) -> Page:
        """One page of a device's rows in ``table`` (``recorded_at`` then ``id``, newest
        first) and whether older ones remain; ``item`` turns a row into an entry and its
        size in bytes. Shared so history and events page, and are bounded, the same way.

        Within a page the walk continues from the last (time, id) read, so a chunk boundary
        between rows of the same time neither repeats nor skips one.
        """
        # What was reported a moment ago must be on the page: commit the queued rows first.
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
