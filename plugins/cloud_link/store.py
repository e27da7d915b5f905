"""Reading and writing the station's claim (``cloud_config``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from plugins.cloud_link.tables import CLAIM_ROW_ID, cloud_config


@dataclass(frozen=True, slots=True)
class Claim:
    station_token: str
    claimed_at: float


class ClaimStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self) -> Claim | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(cloud_config.c.station_token, cloud_config.c.claimed_at)
                )
            ).first()
        return Claim(row.station_token, row.claimed_at) if row else None

    async def save(self, station_token: str) -> Claim:
        """Replace any earlier claim; delete-then-insert is portable across SQLite and
        PostgreSQL and atomic inside one transaction."""
        claim = Claim(station_token, time.time())
        async with self._engine.begin() as connection:
            await connection.execute(sa.delete(cloud_config))
            await connection.execute(
                sa.insert(cloud_config).values(
                    id=CLAIM_ROW_ID,
                    station_token=claim.station_token,
                    claimed_at=claim.claimed_at,
                )
            )
        return claim

    async def wipe(self) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(sa.delete(cloud_config))
