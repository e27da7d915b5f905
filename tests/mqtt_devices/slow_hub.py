"""A deliberately slow database: every history row costs time inside SQLite's own thread.

    python tests/mqtt_devices/slow_hub.py SECONDS_PER_ROW CONFIG_DIR

runs ``station-hub run`` with that slowness (the SIGTERM mid-flush test); ``slow_rows``
slows an engine in this process (the backpressure test). The delay is an SQLite function
called by a trigger on each inserted ``device_state_history`` row, so it runs where the
database works (aiosqlite's thread) and never blocks the event loop: the hub goes on
reading, signals arrive, exactly as with a slow disk. The first slowed row prints
``SLOW HISTORY INSERT`` so a test knows a flush is under way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

TRIGGER = (
    "CREATE TEMP TRIGGER IF NOT EXISTS slow_history AFTER INSERT ON device_state_history "
    "BEGIN SELECT slow_history_row(); END"
)


def slow_rows(target: type[Engine] | Engine, delay: Callable[[], object]) -> None:
    """Every connection ``target`` opens from now on calls ``delay`` for each history row."""
    announced = False

    def row() -> int:
        nonlocal announced
        if not announced:
            announced = True
            print("SLOW HISTORY INSERT", flush=True)
        delay()
        return 0

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("slow_history_row", 0, row)

    def on_begin(connection: Any) -> None:
        # TEMP objects live per connection; the table exists only after the migrations.
        tables = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'device_state_history'"
        ).first()
        if tables:
            connection.exec_driver_sql(TRIGGER)

    event.listen(target, "connect", on_connect)
    event.listen(target, "begin", on_begin)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from hub.cli import main

    seconds = float(sys.argv[1])
    slow_rows(Engine, lambda: time.sleep(seconds))
    raise SystemExit(main(["run", "-c", sys.argv[2]]))
