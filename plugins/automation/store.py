"""The automations made over the API, in the database (SQLite or PostgreSQL alike)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import automations


class AutomationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self) -> list[dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(automations.c.config).order_by(automations.c.created_at)
            )
            return [dict(config) for (config,) in rows]

    async def exists(self, automation_id: str) -> bool:
        async with self._engine.connect() as connection:
            found = await connection.execute(
                sa.select(automations.c.id).where(automations.c.id == automation_id)
            )
            return found.first() is not None

    async def save(self, config: dict[str, Any]) -> None:
        """Insert or replace the automation with ``config['id']``."""
        now = time.time()
        async with self._engine.begin() as connection:
            updated = await connection.execute(
                sa.update(automations)
                .where(automations.c.id == config["id"])
                .values(config=config, updated_at=now)
            )
            if updated.rowcount == 0:
                await connection.execute(
                    sa.insert(automations).values(
                        id=config["id"], config=config, created_at=now, updated_at=now
                    )
                )

    async def delete(self, automation_id: str) -> bool:
        async with self._engine.begin() as connection:
            deleted = await connection.execute(
                sa.delete(automations).where(automations.c.id == automation_id)
            )
            return deleted.rowcount > 0
