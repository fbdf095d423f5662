"""Alembic environment: authhub hands the connection in; no ini file."""

from alembic import context

from authhub.store import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
