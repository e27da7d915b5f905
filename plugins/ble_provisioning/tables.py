"""The integration's own table, in its own MetaData (its migrations own its history)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

WIFI_ROW_ID = 1

# One row: the Wi-Fi network devices join when a provisioning request names none. The
# passphrase is stored as given because it has to be handed to devices later; the
# database file lives in the config directory, next to the other station secrets.
ble_wifi_credentials = sa.Table(
    "ble_wifi_credentials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ssid", sa.Text, nullable=False),
    sa.Column("password", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.CheckConstraint(f"id = {WIFI_ROW_ID}", name="ck_ble_wifi_credentials_single_row"),
)
