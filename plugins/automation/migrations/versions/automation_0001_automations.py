"""automation: the table of automations made over the API.

Revision ID: automation_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "automation_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "automations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade():
    op.drop_table("automations")
