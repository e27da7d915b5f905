"""Cloud link: the single-row cloud_config table.

Revision ID: cloud_link_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "cloud_link_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cloud_config",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("station_token", sa.Text, nullable=False),
        sa.Column("claimed_at", sa.Float, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_cloud_config_single_row"),
    )


def downgrade():
    op.drop_table("cloud_config")
