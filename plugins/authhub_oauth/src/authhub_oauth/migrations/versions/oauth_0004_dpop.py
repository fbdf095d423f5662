"""DPoP (RFC 9449): the key a token is bound to, and the proofs already used.

``oauth_token.dpop_jkt`` holds the RFC 7638 thumbprint of the key the
access token (and its refresh token) is bound to, ``NULL`` for a bearer
token: every existing token stays a bearer token. ``oauth_dpop_proof``
remembers used proofs (a digest of key and ``jti``) until they are stale.
The downgrade revokes the bound tokens, which would otherwise become
bearer tokens.

Revision ID: oauth_0004
Revises: oauth_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "oauth_0004"
down_revision = "oauth_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_token") as batch:
        batch.add_column(sa.Column("dpop_jkt", sa.String(64), nullable=True))
    op.create_table(
        "oauth_dpop_proof",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_oauth_dpop_proof"),
    )
    op.create_index("ix_oauth_dpop_proof_expires_at", "oauth_dpop_proof", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_dpop_proof_expires_at", table_name="oauth_dpop_proof")
    op.drop_table("oauth_dpop_proof")
    # Without the column a bound token would pass as a bearer token: end them instead.
    tokens = sa.table("oauth_token", sa.column("dpop_jkt", sa.String(64)),
                      sa.column("revoked_at", sa.DateTime(timezone=True)))
    op.execute(tokens.update().where(tokens.c.dpop_jkt.is_not(None), tokens.c.revoked_at.is_(None))
               .values(revoked_at=sa.func.now()))
    with op.batch_alter_table("oauth_token") as batch:
        batch.drop_column("dpop_jkt")
