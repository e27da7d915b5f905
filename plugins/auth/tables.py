"""The auth integration's tables, in its own MetaData (migrations create them)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("username", sa.String(128), nullable=False, unique=True),
    # validation.username_key(username): names are unique ignoring case (auth_0002).
    sa.Column("username_key", sa.String(512)),
    sa.Column("role", sa.String(16), nullable=False),
    # Local password (argon2id), set through the CLI, onboarding or the store.
    sa.Column("password_hash", sa.Text),
    # Password hash synced from the cloud (bcrypt or argon2), verified by its prefix.
    sa.Column("station_password_hash", sa.Text),
    sa.Column("cloud_user_id", sa.String(128), unique=True),
    sa.Column("active", sa.Boolean, nullable=False),
    # Access tokens issued before this time (epoch seconds) are refused.
    sa.Column("tokens_valid_after", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ux_users_username_key", "username_key", unique=True),
)

stations = sa.Table(
    "stations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("owner_user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

station_members = sa.Table(
    "station_members",
    metadata,
    sa.Column(
        "station_id",
        sa.String(64),
        sa.ForeignKey("stations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
    sa.Index("ix_refresh_tokens_user_id", "user_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),
    sa.Column("revoked_at", sa.Float),
    sa.Index("ix_api_tokens_user_id", "user_id"),
)
