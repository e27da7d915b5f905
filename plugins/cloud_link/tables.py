"""The cloud link's one table, in its own MetaData (its migrations own its history)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

CLAIM_ROW_ID = 1

# One row at most (the CHECK refuses a second): the token the cloud issued when the
# station was claimed, and when. ``claimed_at`` is epoch seconds, like the core's tables.
cloud_config = sa.Table(
    "cloud_config",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("station_token", sa.Text, nullable=False),
    sa.Column("claimed_at", sa.Float, nullable=False),
    sa.CheckConstraint(f"id = {CLAIM_ROW_ID}", name="ck_cloud_config_single_row"),
)
