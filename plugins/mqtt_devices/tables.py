"""mqtt_devices' one table, in its own MetaData (its migrations own its history)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# The topic filters the hub may hold in its persistent session at one broker, under one
# client id: the broker keeps a session's subscriptions across the hub's restarts, so the
# hub must remember them to take back those no longer registered (session_record.py).
mqtt_session_filters = sa.Table(
    "mqtt_session_filters",
    metadata,
    sa.Column("broker", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, primary_key=True),
    sa.Column("pattern", sa.Text, primary_key=True),
)
