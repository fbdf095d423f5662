"""authhub-token: the ``authhub_token`` table.

Revision ID: token_0001
Depends on: authhub_0001 (the user table its tokens belong to)
"""

import sqlalchemy as sa
from alembic import op

revision = "token_0001"
down_revision = None
branch_labels = ("token",)
depends_on = "authhub_0001"


def upgrade() -> None:
    op.create_table(
        "authhub_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scopes", sa.String(1000), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_authhub_token"),
        sa.ForeignKeyConstraint(["user_id"], ["authhub_user.id"], name="fk_authhub_token_user_id_authhub_user",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("digest", name="uq_authhub_token_digest"),
    )
    op.create_index("ix_authhub_token_user_id", "authhub_token", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_authhub_token_user_id", table_name="authhub_token")
    op.drop_table("authhub_token")
