"""The frontend integration's table, in its own MetaData (its migrations own its history)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per dashboard; ``widgets`` is the checked JSON list (dashboards.WIDGET).
frontend_dashboards = sa.Table(
    "frontend_dashboards",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner_user_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("widgets", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
