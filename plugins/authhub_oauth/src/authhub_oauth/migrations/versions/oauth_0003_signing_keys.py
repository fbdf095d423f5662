"""Signing keys, the revocation list of JWT access tokens, and what OpenID Connect keeps with a code (issue 17).

* ``oauth_signing_key``: the keys JWT access tokens and ID tokens are signed with; at most
  one current key per algorithm (a partial unique index on ``alg`` where ``retire_after IS NULL``).
* ``oauth_revoked_jwt``: the ``jti`` of each revoked JWT access token until it expires.
* ``oauth_token.jti``: the ``jti`` of a JWT access token, ``NULL`` for opaque ones (all existing rows).
* ``oauth_authorization_code.nonce`` and ``auth_time``: repeated in the ID token.

Revision ID: oauth_0003
Revises: oauth_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "oauth_0003"
down_revision = "oauth_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("private_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retire_after", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_signing_key"),
        sa.UniqueConstraint("kid", name="uq_oauth_signing_key_kid"),
    )
    op.create_index("uq_oauth_signing_key_current_alg", "oauth_signing_key", ["alg"], unique=True,
                    sqlite_where=sa.text("retire_after IS NULL"), postgresql_where=sa.text("retire_after IS NULL"))
    op.create_table(
        "oauth_revoked_jwt",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_oauth_revoked_jwt"),
    )
    op.create_index("ix_oauth_revoked_jwt_expires_at", "oauth_revoked_jwt", ["expires_at"])
    # Batch mode: SQLite cannot add a unique constraint to an existing table.
    with op.batch_alter_table("oauth_token") as batch:
        batch.add_column(sa.Column("jti", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_oauth_token_jti", ["jti"])
    with op.batch_alter_table("oauth_authorization_code") as batch:
        batch.add_column(sa.Column("nonce", sa.Text(), nullable=True))
        batch.add_column(sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_authorization_code") as batch:
        batch.drop_column("auth_time")
        batch.drop_column("nonce")
    with op.batch_alter_table("oauth_token") as batch:
        batch.drop_constraint("uq_oauth_token_jti", type_="unique")
        batch.drop_column("jti")
    op.drop_table("oauth_revoked_jwt")
    op.drop_table("oauth_signing_key")
