"""Schema upgrades keep data; PostgreSQL works when one is reachable."""

import stat
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
import sqlalchemy.ext.asyncio

from hub.db.database import CORE_MIGRATIONS, DATABASE_FILE, Database

REVISION_1 = '''
"""notes table

Revision ID: notes_0001
"""
import sqlalchemy as sa
import sqlalchemy.ext.asyncio
from alembic import op

revision = "notes_0001"
down_revision = None


def upgrade():
    op.create_table(
        "notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.Text)
    )
'''

REVISION_2 = '''
"""notes get a priority

Revision ID: notes_0002
"""
import sqlalchemy as sa
import sqlalchemy.ext.asyncio
from alembic import op

revision = "notes_0002"
down_revision = "notes_0001"


def upgrade():
    with op.batch_alter_table("notes") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
'''


def write_revision(directory: Path, name: str, text: str) -> None:
    (directory / "versions").mkdir(parents=True, exist_ok=True)
    (directory / "versions" / name).write_text(textwrap.dedent(text))


async def test_upgrade_is_idempotent_and_keeps_data(tmp_path):
    migrations = tmp_path / "migrations"
    write_revision(migrations, "notes_0001.py", REVISION_1)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await database.start()
    try:
        await database.upgrade(CORE_MIGRATIONS, "hub")
        await database.upgrade(migrations, "notes")
        assert database.engine is not None
        async with database.engine.begin() as connection:
            await connection.execute(sa.text("INSERT INTO notes (text) VALUES ('keep me')"))
        await database.upgrade(migrations, "notes")  # nothing to do, nothing lost
        write_revision(migrations, "notes_0002.py", REVISION_2)
        await database.upgrade(migrations, "notes")
        async with database.engine.connect() as connection:
            rows = (await connection.execute(sa.text("SELECT text, priority FROM notes"))).all()
            versions = (
                await connection.execute(sa.text("SELECT version_num FROM alembic_version_notes"))
            ).all()
            journal = (await connection.execute(sa.text("PRAGMA journal_mode"))).scalar_one()
        assert rows == [("keep me", 0)]
        assert versions == [("notes_0002",)]
        assert journal == "wal"
    finally:
        await database.stop()


def _modes(config_dir: Path) -> dict[str, int]:
    return {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in config_dir.glob(f"{DATABASE_FILE}*")
    }


async def test_the_sqlite_file_and_its_wal_are_readable_by_the_owner_only(
    tmp_path, hub_factory, fakes
):
    config_dir = tmp_path / "config"
    hub = await hub_factory({"echo": {}}, config_dir=config_dir, integrations=fakes)
    await hub.devices.handshake("lamp-1", device_type="x", transport="echo")
    modes = _modes(config_dir)
    assert {DATABASE_FILE, f"{DATABASE_FILE}-wal"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes
    await hub.stop()

    # A file an older version (or a careless copy) left world-readable is tightened.
    for path in config_dir.glob(f"{DATABASE_FILE}*"):
        path.chmod(0o644)
    again = await hub_factory({"echo": {}}, config_dir=config_dir, integrations=fakes)
    assert again.devices.by_external_id("lamp-1") is not None
    assert set(_modes(config_dir).values()) == {0o600}, _modes(config_dir)


@pytest.mark.postgres
async def test_hub_runs_on_postgresql(postgres_database, hub_factory, fakes):
    url = postgres_database
    hub = await hub_factory({"hub": {"database": {"url": url}}, "echo": {}}, integrations=fakes)
    device = await hub.devices.handshake("pg-1", device_type="x", transport="echo")
    hub.devices.report_state(device, {"a": 1})
    hub.devices.report_event(device, "e", {"k": "v"}, seq=1)
    history, _ = await hub.devices.history.states_page(device.id)
    assert history[0]["state"] == {"a": 1}
    assert hub.db.engine.dialect.name == "postgresql"
