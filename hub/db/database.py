"""The engine, SQLite tuning, and schema upgrades on start.

Each owner of tables (the core, each integration) keeps its own linear Alembic history and
its own version table, so adding or removing an integration never confuses another's
history, and an upgrade never drops data it does not know about.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_LOGGER = logging.getLogger(__name__)

CORE_MIGRATIONS = Path(__file__).parent / "migrations"
DATABASE_FILE = "station-hub.db"
# SQLite gives its -wal and -shm files the main file's mode, so this covers all three.
_PRIVATE = 0o600
_SIDECARS = ("", "-wal", "-shm", "-journal")


def database_url(core: dict[str, Any], configured: str | None, config_dir: Path) -> str:
    """The YAML's ``hub.database.url``, else ``HUB_DATABASE_URL``, else SQLite in the
    config directory. One function so the CLI opens the very database the hub uses."""
    return (
        core["database"].get("url")
        or configured
        or f"sqlite+aiosqlite:///{Path(config_dir).resolve() / DATABASE_FILE}"
    )


class Database:
    """Owns the async engine; ``upgrade`` brings one owner's tables to its newest revision."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def describe(self) -> str:
        """The database for a person to read: never the password."""
        url = make_url(self.url)
        if self.is_sqlite:
            return f"SQLite {url.database}"
        return url.render_as_string(hide_password=True)

    async def start(self) -> None:
        options: dict[str, Any] = {}
        if self.is_sqlite:
            _keep_private(make_url(self.url).database)
            options["connect_args"] = {"timeout": 30}
        else:
            options.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
        self.engine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    async def stop(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None

    def require_engine(self) -> AsyncEngine:
        if self.engine is None:
            raise RuntimeError("database is not started")
        return self.engine

    async def upgrade(self, directory: str | Path, owner: str) -> None:
        """Apply ``owner``'s pending revisions found in ``directory/versions``."""
        engine = self.require_engine()
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_sync, Path(directory), f"alembic_version_{owner}")


def _keep_private(database: str | None) -> None:
    """Make the SQLite file readable by its owner only, before SQLite opens it.

    It holds the cloud station token, the gateway's tokens and the stored Wi-Fi password
    in the clear; the default umask would leave them readable by every local account.
    A file we cannot tighten (someone else's) is reported, not fatal.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, _PRIVATE)
        os.close(descriptor)
        for suffix in _SIDECARS:
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists() and stat.S_IMODE(sidecar.stat().st_mode) & 0o077:
                sidecar.chmod(_PRIVATE)
    except OSError as error:
        _LOGGER.warning("Could not make %s private (mode 600): %s", path, error)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the batch writer writes; NORMAL is durable across
    # application crashes and only risks the last transaction on power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upgrade_sync(connection: sa.Connection, directory: Path, version_table: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(directory))
    script = ScriptDirectory.from_config(config)

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs("heads", revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev="heads") as environment:
        environment.configure(
            connection=connection,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with environment.begin_transaction():
            environment.run_migrations()
    _LOGGER.debug("Schema %s is at %s", version_table, script.get_current_head())
