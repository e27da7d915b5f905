"""Batched writes that keep the database off the ingest hot path.

Hot-path callers only append to in-memory buffers. A background task turns the buffers
into a handful of executemany statements (SQLAlchemy Core; the ORM unit of work is about
six times slower, PRODUCT.md §9) every ``interval`` seconds or as soon as ``max_batch`` rows
wait. A failed flush keeps its rows for the next attempt; only past ``max_pending`` rows are
the oldest dropped, and counted, so a dead database cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

_LOGGER = logging.getLogger(__name__)


class BatchWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval: float = 0.5,
        max_batch: int = 2000,
        max_pending: int = 200_000,
    ) -> None:
        self._engine = engine
        self._interval = interval
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._inserts: dict[sa.Table, deque[dict[str, Any]]] = {}
        # Keyed updates coalesce: only the newest values per key reach the database.
        self._updates: dict[sa.Table, dict[Any, dict[str, Any]]] = {}
        self._wakeup = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0
        self.failures = 0

    @property
    def pending(self) -> int:
        return sum(len(rows) for rows in self._inserts.values()) + sum(
            len(rows) for rows in self._updates.values()
        )

    def insert(self, table: sa.Table, row: dict[str, Any]) -> None:
        rows = self._inserts.get(table)
        if rows is None:
            rows = self._inserts[table] = deque()
        rows.append(row)
        if len(rows) > self._max_pending:
            rows.popleft()
            self.dropped += 1
        if len(rows) >= self._max_batch:
            self._wakeup.set()

    def update(self, table: sa.Table, key: Any, values: dict[str, Any]) -> None:
        """Queue ``UPDATE table SET values WHERE pk = key``; later values replace earlier."""
        pending = self._updates.setdefault(table, {})
        current = pending.get(key)
        if current is None:
            pending[key] = dict(values)
        else:
            current.update(values)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="hub-batch-writer")

    async def stop(self) -> None:
        """Stop the loop, then write everything still buffered."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        async with self._flush_lock:
            while self.pending:
                if not await self._flush_once():
                    return

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval)
            self._wakeup.clear()
            async with self._flush_lock:
                if self.pending and not await self._flush_once():
                    # Back off a little so a broken database is not hammered.
                    await asyncio.sleep(min(5.0, self._interval * 4))

    async def _flush_once(self) -> bool:
        inserts = {table: list(rows) for table, rows in self._inserts.items() if rows}
        updates = {table: rows for table, rows in self._updates.items() if rows}
        for table in inserts:
            self._inserts[table] = deque()
        for table in updates:
            self._updates[table] = {}
        try:
            async with self._engine.begin() as connection:
                for table, rows in inserts.items():
                    for start in range(0, len(rows), self._max_batch):
                        await connection.execute(
                            sa.insert(table), rows[start : start + self._max_batch]
                        )
                for table, keyed in updates.items():
                    await _write_updates(connection, table, keyed)
        except Exception:
            self.failures += 1
            _LOGGER.exception("Batch write failed; %d rows kept for retry", self.pending)
            self._restore(inserts, updates)
            return False
        self.written += sum(len(rows) for rows in inserts.values()) + sum(
            len(rows) for rows in updates.values()
        )
        return True

    def _restore(
        self,
        inserts: dict[sa.Table, list[dict[str, Any]]],
        updates: dict[sa.Table, dict[Any, dict[str, Any]]],
    ) -> None:
        for table, rows in inserts.items():
            newer = self._inserts.get(table, deque())
            merged = deque(rows)
            merged.extend(newer)
            while len(merged) > self._max_pending:
                merged.popleft()
                self.dropped += 1
            self._inserts[table] = merged
        for table, keyed in updates.items():
            newer_updates = self._updates.setdefault(table, {})
            for key, values in keyed.items():
                merged_values = dict(values)
                merged_values.update(newer_updates.get(key, {}))
                newer_updates[key] = merged_values


async def _write_updates(
    connection: Any, table: sa.Table, keyed: dict[Any, dict[str, Any]]
) -> None:
    (pk,) = table.primary_key.columns
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, values in keyed.items():
        columns = tuple(sorted(values))
        row = {f"new_{name}": value for name, value in values.items()}
        row["_pk"] = key
        by_columns.setdefault(columns, []).append(row)
    for columns, rows in by_columns.items():
        statement = (
            sa.update(table)
            .where(pk == sa.bindparam("_pk"))
            .values({name: sa.bindparam(f"new_{name}") for name in columns})
        )
        await connection.execute(statement, rows)
