"""Core tables. Integrations keep theirs in their own MetaData and migrations."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

metadata = sa.MetaData()


class StateJSON(sa.types.TypeDecorator[Any]):
    """JSON that SQLite gets encoded by orjson: a device state is written twice per state
    message (its history row and the device's latest state), and the stdlib encoder that
    ``sa.JSON`` uses cost ~3 us of each. The stored text is the same JSON, so the column
    stays what the migrations made it; PostgreSQL keeps its JSON type as it is."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.JSON())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if dialect.name == "sqlite":
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if dialect.name == "sqlite" and value is not None:
            return orjson.loads(value)
        return value


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for history.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

device_types = sa.Table(
    "device_types",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("capabilities", sa.JSON, nullable=False),
    sa.Column("commands", sa.JSON, nullable=False),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("external_id", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("transport", sa.String(32), nullable=False),
    sa.Column("firmware", sa.String(64)),
    sa.Column("capabilities", sa.JSON, nullable=False),
    sa.Column("state", StateJSON, nullable=False),
    sa.Column("online", sa.Boolean, nullable=False, default=False),
    sa.Column("last_seen", sa.Float),
    sa.Column("handshaken", sa.Boolean, nullable=False, default=False),
    sa.Column("token_hash", sa.String(64), unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

device_state_history = sa.Table(
    "device_state_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(32), nullable=False),
    sa.Column("state", StateJSON, nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.Index("ix_state_history_device_time", "device_id", "recorded_at"),
)

device_events = sa.Table(
    "device_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(32), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON),
    sa.Column("seq", sa.BigInteger),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.Index("ix_device_events_device_time", "device_id", "recorded_at"),
)

commands = sa.Table(
    "commands",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("device_id", sa.String(32), nullable=False, index=True),
    sa.Column("command", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("result", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
