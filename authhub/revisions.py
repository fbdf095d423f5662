"""The migration state of a hub's database, as ``authhub db`` reports it.

Every installed distribution ships its revisions in its own Alembic
branch; these functions look at all of them at once.
"""

from __future__ import annotations

import io

from alembic import command
from alembic.script import ScriptDirectory

from authhub.hub import AuthHub
from authhub.store import check_known_revisions, migration_config


def scripts(hub: AuthHub) -> ScriptDirectory:
    """Every installed branch's revisions."""
    return ScriptDirectory.from_config(migration_config(hub.migration_directories()))


def applied(hub: AuthHub) -> set[str]:
    """Every revision the database holds: its current heads and all they stand on.

    :raises StoreUnavailable: the database cannot be read.
    """
    heads = hub.store.current_revisions(hub.migration_directories())
    if not heads:
        return set()
    with hub.store.connect() as connection:
        check_known_revisions(connection, migration_config(hub.migration_directories()))
    return {script.revision for script in scripts(hub).revision_map.iterate_revisions(tuple(heads), "base")}


def missing(hub: AuthHub) -> list[str]:
    """The installed revisions the database does not hold yet, in an order they can be applied."""
    held = applied(hub)
    return [script.revision for script in reversed(list(scripts(hub).walk_revisions())) if script.revision not in held]


def upgrade(hub: AuthHub) -> list[str]:
    """Apply every installed branch's missing revisions; those applied, in an order they could run."""
    before = applied(hub)
    hub.upgrade()
    after = applied(hub)
    return [script.revision for script in reversed(list(scripts(hub).walk_revisions()))
            if script.revision in after - before]


def current(hub: AuthHub, verbose: bool = False) -> str:
    """Alembic's ``current``: the revision each branch of the database is at."""
    config = migration_config(hub.migration_directories())
    config.stdout = output = io.StringIO()
    with hub.store.connect() as connection:
        config.attributes["connection"] = connection
        command.current(config, verbose=verbose)
    return output.getvalue()


def history(hub: AuthHub, verbose: bool = False) -> str:
    """Alembic's ``history`` over every installed branch, newest first (reads no database)."""
    config = migration_config(hub.migration_directories())
    config.stdout = output = io.StringIO()
    command.history(config, verbose=verbose)
    return output.getvalue()
