"""The test application follows authhub-token 0002: its tokens refer to users by ``str(user.id)``, no foreign key.

An application with its own token model ships a revision like this one in
its own branch; the rows are kept (batch mode copies the table on SQLite).

Revision ID: app_0002
Revises: app_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "app_0002"
down_revision = "app_0001"
branch_labels = None
depends_on = None

TABLE = "testapp_service_token"
FOREIGN_KEY = "fk_testapp_service_token_user_id_authhub_user"


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
    raise NotImplementedError("the test application never goes back")
