"""A throwaway PostgreSQL database per test, on whatever server answers on loopback.

Each database gets a random name and is dropped afterwards, so two test runs sharing one
server (two checkouts, CI beside a developer) never see each other's tables. Tests using it
are skipped, with the reason, when no usable server is reachable: PostgreSQL is optional for
the hub, SQLite is its default.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

#: Where the server is; the ``test`` database only names the server, nothing is written there.
DEFAULT_SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could host a throwaway database; the message says why."""


def server_url() -> URL:
    """The server to use: ``HUB_TEST_POSTGRES_URL`` or the local default."""
    return make_url(os.environ.get("HUB_TEST_POSTGRES_URL", DEFAULT_SERVER_URL))


def _reachable(url: URL) -> bool:
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), 0.5):
            return True
    except OSError:
        return False


@asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    """Create a uniquely named database, yield its URL, drop it (and its sessions) after.

    Raises PostgresUnavailable before yielding when the server is missing or refuses us.
    """
    server = server_url()
    if not _reachable(server):
        raise PostgresUnavailable(f"no PostgreSQL server at {server.host}:{server.port or 5432}")
    name = f"station_hub_test_{secrets.token_hex(6)}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        try:
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except Exception as error:  # reachable port, unusable server or role
            raise PostgresUnavailable(f"PostgreSQL not usable: {error}") from error
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                # FORCE (PostgreSQL 13+) ends sessions a failed test may have left open.
                await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
