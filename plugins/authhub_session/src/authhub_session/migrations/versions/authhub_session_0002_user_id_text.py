"""Sessions refer to users by the user store's id as text, with no foreign key.

Users may live in an application's own table with string ids (UUIDs), so
``authhub_session.user_id`` becomes ``VARCHAR(255)`` holding ``str(user.id)``
and loses its foreign key to ``authhub_user``. Existing sessions are kept:
their integer ids become the same number as text. SQLite cannot alter a
column, so the table is copied (Alembic's batch mode).

Revision ID: authhub_session_0002
Revises: authhub_session_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "authhub_session_0002"
down_revision = "authhub_session_0001"
branch_labels = None
depends_on = None

_FOREIGN_KEY = "fk_authhub_session_user_id_authhub_user"


def upgrade() -> None:
    with op.batch_alter_table("authhub_session") as batch:
        batch.drop_constraint(_FOREIGN_KEY, type_="foreignkey")
        batch.alter_column("user_id", existing_type=sa.Integer(), type_=sa.String(255), existing_nullable=False,
                           postgresql_using="user_id::varchar(255)")


def downgrade() -> None:
    # Only sessions of the built-in user table can go back to an integer key.
    op.execute("DELETE FROM authhub_session WHERE user_id NOT IN "
               "(SELECT CAST(id AS VARCHAR(255)) FROM authhub_user)")
    with op.batch_alter_table("authhub_session") as batch:
        batch.alter_column("user_id", existing_type=sa.String(255), type_=sa.Integer(), existing_nullable=False,
                           postgresql_using="user_id::integer")
        batch.create_foreign_key(_FOREIGN_KEY, "authhub_user", ["user_id"], ["id"], ondelete="CASCADE")
