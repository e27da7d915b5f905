"""mqtt_devices: the topic filters held in the hub's persistent broker session.

Revision ID: mqtt_devices_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "mqtt_devices_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mqtt_session_filters",
        sa.Column("broker", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("pattern", sa.Text, primary_key=True),
    )


def downgrade():
    op.drop_table("mqtt_session_filters")
