"""Codes and tokens refer to users by ``str(user.id)``, without a foreign key to ``authhub_user``.

A user store may keep its users anywhere, with integer or string ids (issue 12),
so ``user_id`` becomes ``VARCHAR(255)``; the existing integer ids are kept as text.
SQLite cannot alter a column: batch mode copies each table.

Revision ID: oauth_0002
Revises: oauth_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "oauth_0002"
down_revision = "oauth_0001"
branch_labels = None
depends_on = None

#: The tables holding a ``user_id``, and whether it may be ``NULL`` (client-credentials tokens).
TABLES = (("oauth_authorization_code", False), ("oauth_token", True))


def upgrade() -> None:
    for table, nullable in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_user_id_authhub_user", type_="foreignkey")
            batch.alter_column(
                "user_id",
                existing_type=sa.Integer(),
                type_=sa.String(255),
                existing_nullable=nullable,
                postgresql_using="user_id::varchar(255)",
            )


def downgrade() -> None:
    bind = op.get_bind()
    for table, _nullable in TABLES:
        # Only ids of the built-in user table fit back: refuse rather than lose rows.
        rows = sa.table(table, sa.column("user_id", sa.String(255)))
        users = sa.table("authhub_user", sa.column("id", sa.Integer()))
        foreign = bind.execute(
            sa.select(sa.func.count()).select_from(rows).where(
                rows.c.user_id.is_not(None),
                rows.c.user_id.not_in(sa.select(sa.cast(users.c.id, sa.String(255)))),
            )
        ).scalar_one()
        if foreign:
            raise RuntimeError(
                f"cannot downgrade oauth_0002: {foreign} row(s) of {table} refer to users "
                "that are not in authhub_user; revoke or delete them first"
            )
    for table, nullable in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "user_id",
                existing_type=sa.String(255),
                type_=sa.Integer(),
                existing_nullable=nullable,
                postgresql_using="user_id::integer",
            )
            batch.create_foreign_key(
                f"fk_{table}_user_id_authhub_user", "authhub_user", ["user_id"], ["id"], ondelete="CASCADE"
            )
