"""Frontend: the dashboards table.

Revision ID: frontend_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "frontend_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "frontend_dashboards",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_user_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("widgets", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_frontend_dashboards_owner_user_id", "frontend_dashboards", ["owner_user_id"]
    )


def downgrade():
    op.drop_index("ix_frontend_dashboards_owner_user_id", "frontend_dashboards")
    op.drop_table("frontend_dashboards")
