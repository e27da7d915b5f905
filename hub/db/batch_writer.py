"""Batched writes that keep the database off the ingest hot path.

Hot-path callers only append to in-memory buffers. A background task turns the buffers
into a handful of executemany statements (SQLAlchemy Core; the ORM unit of work is about
six times slower) every ``interval`` seconds or as soon as ``max_batch`` rows wait.

Durability is a promise the writer keeps to whoever asks: ``after_commit(callback)`` runs
the callback once everything buffered before it is committed. The MQTT pump acknowledges a
QoS 1 message that way, so an acknowledged message is always in the database. While such
callbacks wait, the writer commits after ``ack_delay`` at the latest (or at once when
``ack_batch`` wait), so the broker's in-flight window keeps moving; the batch is then
whatever arrived while the previous commit ran (group commit).

A flush is never interrupted: it runs as its own task, and ``stop()`` lets the current one
finish and then writes the rest, so stopping cannot lose a batch. A failed flush keeps its
rows (and callbacks) for the next attempt. Past ``max_pending`` rows the oldest are dropped
and counted so a dead database cannot exhaust memory, but never while commit callbacks
wait (those rows are promised). MQTT does not get there: unacknowledged messages stop the
broker at its in-flight window, and QoS 0 is shed past ``high_water`` (``behind``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

_LOGGER = logging.getLogger(__name__)

Callback = Callable[[], None]


class BatchWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval: float = 0.5,
        max_batch: int = 2000,
        max_pending: int = 200_000,
        high_water: int = 50_000,
        ack_delay: float = 0.02,
        ack_batch: int = 400,
    ) -> None:
        self._engine = engine
        self._interval = interval
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._high_water = high_water
        self._ack_delay = ack_delay
        self._ack_batch = ack_batch
        self._inserts: dict[sa.Table, deque[dict[str, Any]]] = {}
        # Keyed updates coalesce: only the newest values per key reach the database.
        self._updates: dict[sa.Table, dict[Any, dict[str, Any]]] = {}
        # Callbacks waiting for the commit of everything buffered before them, in order.
        self._waiters: list[Callback] = []
        self._wakeup = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._flushing: asyncio.Task[bool] | None = None
        self._stopping = False
        self.dropped = 0
        self.written = 0
        self.failures = 0
        self.commits = 0

    @property
    def pending(self) -> int:
        return sum(len(rows) for rows in self._inserts.values()) + sum(
            len(rows) for rows in self._updates.values()
        )

    @property
    def behind(self) -> bool:
        """More rows wait than a healthy database leaves behind: shed what may be shed."""
        return self.pending >= self._high_water

    @property
    def waiting_callbacks(self) -> int:
        return len(self._waiters)

    def insert(self, table: sa.Table, row: dict[str, Any]) -> None:
        rows = self._inserts.get(table)
        if rows is None:
            rows = self._inserts[table] = deque()
        rows.append(row)
        # Rows an acknowledgement waits for are never dropped: that would lose a message
        # the broker has let go of.
        if len(rows) > self._max_pending and not self._waiters:
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

    def after_commit(self, callback: Callback) -> None:
        """Call ``callback`` once everything buffered so far is committed (never before).

        With nothing buffered, nothing being written and nobody waiting, that is now.
        Callbacks run in the order they were given; one that raises is logged and skipped.
        """
        waiters = self._waiters
        if not waiters and self._flushing is None and not self.pending:
            _call(callback)
            return
        waiters.append(callback)
        if len(waiters) >= self._ack_batch:
            self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="hub-batch-writer")

    async def stop(self) -> None:
        """Let the current flush finish, stop the loop, then write everything still buffered."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def flush(self) -> None:
        """Write everything buffered now (and what arrives meanwhile); stop on a failure."""
        async with self._flush_lock:
            while self.pending or self._waiters:
                if not await self._flush_shielded():
                    return

    async def _run(self) -> None:
        while not self._stopping:
            timeout = self._ack_delay if self._waiters else self._interval
            if not self._wakeup.is_set():
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a
                # cancellation that arrives as the wait ends, and the loop would go on.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wakeup.wait()
            self._wakeup.clear()
            if self._stopping:
                return
            async with self._flush_lock:
                if (self.pending or self._waiters) and not await self._flush_shielded():
                    # Back off a little so a broken database is not hammered.
                    await asyncio.sleep(min(5.0, self._interval * 4))

    async def _flush_shielded(self) -> bool:
        """One flush in its own task: cancelling the caller does not cancel the write."""
        flushing = self._flushing = asyncio.ensure_future(self._flush_once())
        try:
            return await asyncio.shield(flushing)
        except asyncio.CancelledError:
            # The caller goes away; the write goes on and its outcome is kept.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(flushing)
            raise
        finally:
            if flushing.done():
                self._flushing = None

    async def _flush_once(self) -> bool:
        inserts = {table: list(rows) for table, rows in self._inserts.items() if rows}
        updates = {table: rows for table, rows in self._updates.items() if rows}
        waiters, self._waiters = self._waiters, []
        for table in inserts:
            self._inserts[table] = deque()
        for table in updates:
            self._updates[table] = {}
        try:
            if inserts or updates:
                async with self._engine.begin() as connection:
                    for table, rows in inserts.items():
                        for start in range(0, len(rows), self._max_batch):
                            await connection.execute(
                                sa.insert(table), rows[start : start + self._max_batch]
                            )
                    for table, keyed in updates.items():
                        await _write_updates(connection, table, keyed)
        except BaseException as error:
            # Cancellation included: the transaction was rolled back, so the rows and
            # the callbacks waiting for them go back in front of what came since.
            self._restore(inserts, updates, waiters)
            if not isinstance(error, Exception):
                raise
            self.failures += 1
            _LOGGER.error(
                "Batch write failed (%s: %s); %d rows kept for retry",
                type(error).__name__,
                error,
                self.pending,
            )
            return False
        self.commits += 1
        self.written += sum(len(rows) for rows in inserts.values()) + sum(
            len(rows) for rows in updates.values()
        )
        for callback in waiters:
            _call(callback)
        return True

    def _restore(
        self,
        inserts: dict[sa.Table, list[dict[str, Any]]],
        updates: dict[sa.Table, dict[Any, dict[str, Any]]],
        waiters: list[Callback],
    ) -> None:
        self._waiters[:0] = waiters
        for table, rows in inserts.items():
            newer = self._inserts.get(table, deque())
            merged = deque(rows)
            merged.extend(newer)
            while len(merged) > self._max_pending and not self._waiters:
                merged.popleft()
                self.dropped += 1
            self._inserts[table] = merged
        for table, keyed in updates.items():
            newer_updates = self._updates.setdefault(table, {})
            for key, values in keyed.items():
                merged_values = dict(values)
                merged_values.update(newer_updates.get(key, {}))
                newer_updates[key] = merged_values


def _call(callback: Callback) -> None:
    try:
        callback()
    except Exception:
        _LOGGER.exception("A callback waiting for a batch commit failed")


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
