"""Failed-attempt counters for lockout and backoff.

Revision ID: authhub_0002
Revises: authhub_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "authhub_0002"
down_revision = "authhub_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authhub_attempt",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.Float(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_authhub_attempt"),
    )


def downgrade() -> None:
    op.drop_table("authhub_attempt")
