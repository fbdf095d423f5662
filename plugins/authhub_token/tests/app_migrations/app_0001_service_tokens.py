"""The test application's own token table (its own branch, as an application would ship it).

Revision ID: app_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "app_0001"
down_revision = None
branch_labels = ("testapp",)
depends_on = "authhub_0001"


def upgrade() -> None:
    op.create_table(
        "testapp_service_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(50), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("authhub_user.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("digest", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("revoked", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_table("testapp_service_token")
