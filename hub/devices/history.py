"""A device's past, read back: its state history and its events, newest first, in pages.

Both are written by the ingest path (``DeviceRegistry.report_state`` / ``report_event``
queue the rows on the batch writer); this module only reads them, for
``GET /api/devices/{id}/history`` and ``/events``. Both walk the same way and are bounded
the same way, in entries and in bytes: a state or an event's data is whatever the device
sent (up to 64 KiB), so a page's size, not only its length, must stay bounded.

A page ends at a row, and the next one starts right after it: ``PageCursor`` is that
row's (``recorded_at``, ``id``), the key the rows are ordered by. A time alone cannot be
the cursor: rows written in one batch share their ``recorded_at``, and the API's times
(``iso``) are truncated to the microsecond while the stored floats are finer, so "before
this time" skipped the rows left in the last one's microsecond.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import tables
from hub.db.batch_writer import BatchWriter
from hub.timestamps import iso

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: More fraction digits than any clock reading needs: a float's shortest decimal has at
#: most 17 significant digits, so a time of 1 s or more has at most 16 after the point.
#: Only a time within 10 ns of 1970 (no clock's reading) needs more; its cursor is
#: truncated to these, and may then skip rows.
_MAX_FRACTION_DIGITS = 24

#: The longest cursor the hub writes or reads: an ISO time with ``_MAX_FRACTION_DIGITS``
#: and a ``+HH:MM`` offset (50), ``~`` and a 63-bit id (19). Bounds what a client may send.
MAX_CURSOR_CHARS = 70

_MAX_ROW_ID = 2**63 - 1

# ASCII digits only ([0-9], not \d, which is any Unicode digit); \Z is the true end.
_CURSOR = re.compile(
    r"(?P<seconds>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})"
    rf"(?:\.(?P<fraction>[0-9]{{1,{_MAX_FRACTION_DIGITS}}}))?"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})"
    r"~(?P<row_id>[1-9][0-9]{0,18})\Z"
)


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Where a page ended: its last row's ``recorded_at``, exactly as stored, and ``id``.

    The next page holds the rows after it in the walk's order (``recorded_at`` then ``id``,
    both descending), so rows sharing a time are neither skipped nor repeated. Written as
    ``<ISO time>~<id>``, e.g. ``2026-11-29T17:09:49.0012345Z~42``: the time is the stored
    float's shortest decimal, so it reads back as the very same float (``recordedAt``
    stops at the microsecond; this has six digits after the point, or more when the float
    needs them). ``Z`` rather than ``+00:00`` keeps the cursor free of ``+``, which a query
    string would read as a space.
    """

    recorded_at: float
    row_id: int

    def encode(self) -> str:
        """The cursor as the API writes it (``nextBefore``)."""
        # repr is the shortest decimal that reads back as this float; Fraction keeps it
        # exact while it is split into whole seconds and the digits after the point.
        exact = Fraction(repr(self.recorded_at))
        whole = math.floor(exact)
        rest = exact - whole
        places = 0
        while (rest * 10**places).denominator != 1 and places < _MAX_FRACTION_DIGITS:
            places += 1
        digits = str(math.floor(rest * 10**places)).rjust(places, "0") if places else ""
        moment = (_EPOCH + timedelta(seconds=whole)).replace(tzinfo=None)
        fraction = digits.ljust(6, "0")
        return f"{moment.isoformat(timespec='seconds')}.{fraction}Z~{self.row_id}"

    @classmethod
    def parse(cls, text: str) -> PageCursor:
        """A cursor written by ``encode`` (any UTC offset is read, as for other times).

        Raises ValueError naming the expected form, or the part that is out of range.
        """
        match = _CURSOR.fullmatch(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not a page cursor: expected <ISO time>~<row id> as given "
                "in nextBefore, e.g. 2026-11-29T17:09:49.123456Z~42"
            )
        try:
            moment = datetime.fromisoformat(match["seconds"] + match["offset"])
        except ValueError:
            raise ValueError(
                f"{text!r} is not a page cursor: its time is not a valid date and UTC offset"
            ) from None
        row_id = int(match["row_id"])
        if row_id > _MAX_ROW_ID:
            raise ValueError(f"{text!r} is not a page cursor: its row id is out of range")
        # Whole seconds (offsets are whole minutes), so this division is exact; the digits
        # after the point are added as an exact fraction and rounded once, to the float.
        whole = (moment - _EPOCH) // timedelta(seconds=1)
        digits = match["fraction"] or "0"
        exact = whole + Fraction(int(digits), 10 ** len(digits))
        return cls(recorded_at=float(exact), row_id=row_id)


#: One page: the entries, newest first, and the cursor to the older ones (None when none
#: remain).
Page = tuple[list[dict[str, Any]], PageCursor | None]


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
        before: float | PageCursor | None = None,
        max_bytes: int | None = None,
        chunk: int = 100,
    ) -> Page:
        """Up to ``limit`` states (``{state, recordedAt}``), newest first, and the cursor to
        the older ones (None when none remain). ``before`` is that cursor, from the previous
        page, or a time: then the page starts with the states recorded before it (exclusive).

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
        before: float | PageCursor | None = None,
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
        before: float | PageCursor | None,
        max_bytes: int | None,
        chunk: int,
    ) -> Page:
        """One page of a device's rows in ``table`` (``recorded_at`` then ``id``, newest
        first) and the cursor to the older ones; ``item`` turns a row into an entry and its
        size in bytes. Shared so history and events page, and are bounded, the same way.

        The walk goes on from the last (time, id) read, within a page (a chunk boundary)
        as across pages (the cursor), so rows sharing a time are neither repeated nor skipped.
        """
        # What was reported a moment ago must be on the page: commit the queued rows first.
        await self._writer.flush()
        items: list[dict[str, Any]] = []
        size = 0
        after: PageCursor | None = before if isinstance(before, PageCursor) else None
        until: float | None = None if isinstance(before, PageCursor) else before
        async with self._engine.connect() as connection:
            while len(items) < limit:
                query = sa.select(table.c.id, table.c.recorded_at, *columns).where(
                    table.c.device_id == device_id
                )
                if until is not None:
                    query = query.where(table.c.recorded_at < until)
                if after is not None:
                    # (recorded_at, id) < (at, id), written so that "recorded_at <= at" is
                    # a plain range on the (device_id, recorded_at) index; the float is
                    # the stored one, so "=" matches its rows exactly.
                    query = query.where(
                        table.c.recorded_at <= after.recorded_at,
                        sa.or_(
                            table.c.recorded_at < after.recorded_at,
                            table.c.id < after.row_id,
                        ),
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
                            return items, after
                    items.append(entry)
                    after = PageCursor(float(row.recorded_at), int(row.id))
                if len(rows) <= wanted:
                    return items, None
        return items, after
