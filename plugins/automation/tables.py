"""The integration's table, in its own MetaData (its migrations own its history).

Only automations made over the API are stored; YAML ones live in the YAML. ``config`` is
the automation as the API received it, checked again on every start.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

automations = sa.Table(
    "automations",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
