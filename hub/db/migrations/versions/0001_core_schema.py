"""Core schema: device types, devices, state history, events, commands.

Revision ID: core_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "device_types",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("capabilities", sa.JSON, nullable=False),
        sa.Column("commands", sa.JSON, nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("external_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("transport", sa.String(32), nullable=False),
        sa.Column("firmware", sa.String(64)),
        sa.Column("capabilities", sa.JSON, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("online", sa.Boolean, nullable=False),
        sa.Column("last_seen", sa.Float),
        sa.Column("handshaken", sa.Boolean, nullable=False),
        sa.Column("token_hash", sa.String(64), unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "device_state_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_state_history_device_time", "device_state_history", ["device_id", "recorded_at"]
    )
    op.create_table(
        "device_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON),
        sa.Column("seq", sa.BigInteger),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )
    op.create_index("ix_device_events_device_time", "device_events", ["device_id", "recorded_at"])
    op.create_table(
        "commands",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_commands_device_id", "commands", ["device_id"])


def downgrade():
    for table in ("commands", "device_events", "device_state_history", "devices", "device_types"):
        op.drop_table(table)
