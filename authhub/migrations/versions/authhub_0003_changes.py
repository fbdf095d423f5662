"""The invalidation channel's log (authhub.changes).

Revision ID: authhub_0003
Revises: authhub_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "authhub_0003"
down_revision = "authhub_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authhub_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_authhub_change"),
    )


def downgrade() -> None:
    op.drop_table("authhub_change")
