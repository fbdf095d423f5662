"""The core's user table.

Revision ID: authhub_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "authhub_0001"
down_revision = None
branch_labels = ("authhub",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authhub_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_authhub_user"),
        sa.UniqueConstraint("username", name="uq_authhub_user_username"),
    )


def downgrade() -> None:
    op.drop_table("authhub_user")
