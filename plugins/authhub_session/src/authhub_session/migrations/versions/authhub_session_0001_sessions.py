"""The session table.

Revision ID: authhub_session_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "authhub_session_0001"
down_revision = None
branch_labels = ("session",)
depends_on = "authhub_0001"


def upgrade() -> None:
    op.create_table(
        "authhub_session",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_secret", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_authhub_session"),
        sa.ForeignKeyConstraint(["user_id"], ["authhub_user.id"], ondelete="CASCADE",
                                name="fk_authhub_session_user_id_authhub_user"),
    )
    op.create_index("ix_authhub_session_user_id", "authhub_session", ["user_id"])
    op.create_index("ix_authhub_session_created_at", "authhub_session", ["created_at"])
    op.create_index("ix_authhub_session_last_seen_at", "authhub_session", ["last_seen_at"])


def downgrade() -> None:
    op.drop_table("authhub_session")
