"""IoT gateway: the single-row token table and the object metadata table.

Revision ID: iot_gateway_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "iot_gateway_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "iot_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("refresh_token", sa.Text),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("issued_at", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_iot_tokens_single_row"),
    )
    op.create_table(
        "iot_objects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(255), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade():
    op.drop_table("iot_objects")
    op.drop_table("iot_tokens")
