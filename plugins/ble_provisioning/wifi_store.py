"""The agent's Wi-Fi credentials (``PUT /api/agent/wifi``), one row, upserted portably."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from plugins.ble_provisioning.credentials import WifiCredentials
from plugins.ble_provisioning.tables import WIFI_ROW_ID, ble_wifi_credentials


class WifiStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Two concurrent first saves would both insert; one process, one lock suffices.
        self._lock = asyncio.Lock()

    async def load(self) -> tuple[WifiCredentials, float] | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(ble_wifi_credentials).where(ble_wifi_credentials.c.id == WIFI_ROW_ID)
                )
            ).first()
        if row is None:
            return None
        return WifiCredentials(row.ssid, row.password), row.updated_at

    async def save(self, credentials: WifiCredentials) -> float:
        """Replace the stored pair; update-then-insert works on SQLite and PostgreSQL alike."""
        now = time.time()
        values = {"ssid": credentials.ssid, "password": credentials.password, "updated_at": now}
        async with self._lock, self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(ble_wifi_credentials)
                .where(ble_wifi_credentials.c.id == WIFI_ROW_ID)
                .values(**values)
            )
            if result.rowcount == 0:
                await connection.execute(
                    sa.insert(ble_wifi_credentials).values(id=WIFI_ROW_ID, **values)
                )
        return now
