"""Reading and writing ``mqtt_session_filters``: one session's remembered topic filters.

A session is one broker and one client id (another broker, or another client id, is
another session with subscriptions of its own), so every query is bound to both.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import mqtt_session_filters as table


class SessionFilters:
    def __init__(self, engine: AsyncEngine, broker: str, client_id: str) -> None:
        self._engine = engine
        self.broker = broker
        self._session = (table.c.broker == broker) & (table.c.client_id == client_id)
        self._key = {"broker": broker, "client_id": client_id}

    async def load(self) -> set[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(sa.select(table.c.pattern).where(self._session))
            return set(rows.scalars())

    async def add(self, patterns: Iterable[str]) -> None:
        """Remember ``patterns``; those already remembered are left as they are (a
        select-then-insert in one transaction works alike on SQLite and PostgreSQL)."""
        wanted = set(patterns)
        if not wanted:
            return
        async with self._engine.begin() as connection:
            rows = await connection.execute(sa.select(table.c.pattern).where(self._session))
            missing = wanted - set(rows.scalars())
            if missing:
                await connection.execute(
                    sa.insert(table), [{**self._key, "pattern": p} for p in sorted(missing)]
                )

    async def remove(self, patterns: Iterable[str]) -> None:
        gone = set(patterns)
        if not gone:
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                sa.delete(table).where(self._session, table.c.pattern.in_(sorted(gone)))
            )
