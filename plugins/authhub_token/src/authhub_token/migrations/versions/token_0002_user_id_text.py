"""authhub-token: ``authhub_token.user_id`` holds any user store's id as text, without a foreign key.

Tokens refer to users by ``str(user.id)`` so that an application's own user
store (string ids, its own table) works too. The existing integer ids are
kept, as text. PostgreSQL converts the column in place (``USING
user_id::text``); SQLite cannot alter a column, so the table is copied
(Alembic's batch mode), rows and indexes included.

Revision ID: token_0002
Revises: token_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "token_0002"
down_revision = "token_0001"
branch_labels = None
depends_on = None

TABLE = "authhub_token"
FOREIGN_KEY = "fk_authhub_token_user_id_authhub_user"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(FOREIGN_KEY, TABLE, type_="foreignkey")
        op.alter_column(TABLE, "user_id", type_=sa.String(255), existing_type=sa.Integer(), existing_nullable=False,
                        postgresql_using="user_id::text")
        return
    with op.batch_alter_table(TABLE, recreate="always") as batch:
        batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        batch.alter_column("user_id", type_=sa.String(255), existing_type=sa.Integer(), existing_nullable=False)


def downgrade() -> None:
    # Only integer ids (the built-in user store's) can go back; any other id makes this fail, changing nothing.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(TABLE, "user_id", type_=sa.Integer(), existing_type=sa.String(255), existing_nullable=False,
                        postgresql_using="user_id::integer")
        op.create_foreign_key(FOREIGN_KEY, TABLE, "authhub_user", ["user_id"], ["id"], ondelete="CASCADE")
        return
    with op.batch_alter_table(TABLE, recreate="always") as batch:
        batch.alter_column("user_id", type_=sa.Integer(), existing_type=sa.String(255), existing_nullable=False)
        batch.create_foreign_key(FOREIGN_KEY, "authhub_user", ["user_id"], ["id"], ondelete="CASCADE")
