"""OAuth clients, authorization codes and tokens.

Revision ID: oauth_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "oauth_0001"
down_revision = None
branch_labels = ("oauth",)
depends_on = "authhub_0001"


def upgrade() -> None:
    op.create_table(
        "oauth_client",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("client_secret_digest", sa.String(64), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("grant_types", sa.Text(), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("may_introspect", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_client"),
        sa.UniqueConstraint("client_id", name="uq_oauth_client_client_id"),
    )
    op.create_table(
        "oauth_authorization_code",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code_digest", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_authorization_code"),
        sa.UniqueConstraint("code_digest", name="uq_oauth_authorization_code_code_digest"),
        sa.ForeignKeyConstraint(["client_id"], ["oauth_client.client_id"], ondelete="CASCADE",
                                name="fk_oauth_authorization_code_client_id_oauth_client"),
        sa.ForeignKeyConstraint(["user_id"], ["authhub_user.id"], ondelete="CASCADE",
                                name="fk_oauth_authorization_code_user_id_authhub_user"),
    )
    op.create_index("ix_oauth_authorization_code_client_id", "oauth_authorization_code", ["client_id"])
    op.create_index("ix_oauth_authorization_code_user_id", "oauth_authorization_code", ["user_id"])
    op.create_table(
        "oauth_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("access_token_digest", sa.String(64), nullable=False),
        sa.Column("refresh_token_digest", sa.String(64), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("family_id", sa.String(32), nullable=False),
        sa.Column("authorization_code_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_token"),
        sa.UniqueConstraint("access_token_digest", name="uq_oauth_token_access_token_digest"),
        sa.UniqueConstraint("refresh_token_digest", name="uq_oauth_token_refresh_token_digest"),
        sa.ForeignKeyConstraint(["client_id"], ["oauth_client.client_id"], ondelete="CASCADE",
                                name="fk_oauth_token_client_id_oauth_client"),
        sa.ForeignKeyConstraint(["user_id"], ["authhub_user.id"], ondelete="CASCADE",
                                name="fk_oauth_token_user_id_authhub_user"),
    )
    op.create_index("ix_oauth_token_client_id", "oauth_token", ["client_id"])
    op.create_index("ix_oauth_token_user_id", "oauth_token", ["user_id"])
    op.create_index("ix_oauth_token_family_id", "oauth_token", ["family_id"])
    op.create_index("ix_oauth_token_authorization_code_id", "oauth_token", ["authorization_code_id"])


def downgrade() -> None:
    op.drop_table("oauth_token")
    op.drop_table("oauth_authorization_code")
    op.drop_table("oauth_client")
