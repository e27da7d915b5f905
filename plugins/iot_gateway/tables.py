"""The integration's tables, in its own MetaData (its migrations own their history)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

TOKEN_ROW_ID = 1

# One row only (the CHECK makes a second one impossible): the pair the hub currently uses.
# ``expires_at`` and ``issued_at`` are epoch milliseconds; their difference is the token's
# lifetime, which decides how early it is refreshed.
iot_tokens = sa.Table(
    "iot_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("access_token", sa.Text, nullable=False),
    sa.Column("refresh_token", sa.Text),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("issued_at", sa.BigInteger, nullable=False),
    sa.CheckConstraint(f"id = {TOKEN_ROW_ID}", name="ck_iot_tokens_single_row"),
)

iot_objects = sa.Table(
    "iot_objects",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(255), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
