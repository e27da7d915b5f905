"""BLE provisioning: the single-row table of agent-supplied Wi-Fi credentials.

Revision ID: ble_provisioning_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "ble_provisioning_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ble_wifi_credentials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ssid", sa.Text, nullable=False),
        sa.Column("password", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ble_wifi_credentials_single_row"),
    )


def downgrade():
    op.drop_table("ble_wifi_credentials")
