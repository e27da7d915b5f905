"""A large fleet in a few hundred milliseconds: one executemany, then the registry reloads.

Handshaking 10 000 devices one by one writes through 10 000 times; paging tests only need
the devices to exist, as they would after a restart of a busy station.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from hub.core import Hub
from hub.db import tables


def fleet_rows(count: int, *, state_bytes: int = 200) -> list[dict[str, Any]]:
    now = time.time()
    padding = "x" * state_bytes
    return [
        {
            "id": f"{index:032x}",
            "external_id": f"sensor-{index:05d}",
            "name": f"Sensor {index}",
            "type": "thermo",
            "transport": "mqtt",
            "firmware": "1.0.0",
            "capabilities": ["temp"],
            "state": {"temp": 20.5, "note": padding},
            "online": False,
            "last_seen": now,
            "handshaken": True,
            "created_at": now,
        }
        for index in range(count)
    ]


async def add_fleet(hub: Hub, count: int, *, state_bytes: int = 200) -> None:
    """Insert ``count`` devices in one statement and let the registry pick them up."""
    rows = fleet_rows(count, state_bytes=state_bytes)
    async with hub.db.require_engine().begin() as connection:
        await connection.execute(sa.insert(tables.devices), rows)
    await hub.devices.load()
    assert len(hub.devices.all()) >= count
