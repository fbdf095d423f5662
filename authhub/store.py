"""The hub's database: one SQLAlchemy engine, the shared metadata, migrations.

Every distribution declares its tables on :data:`Base` and ships its
Alembic revisions in its own version branch; :meth:`Store.upgrade` applies
every installed branch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from authhub.errors import ConfigurationError
from authhub.outages import outage_as_503
from authhub.reads import KeptConnections, PreparedRead
from authhub.storeerrors import missing_driver, parse_url, unknown_database

CORE_MIGRATIONS = Path(__file__).parent / "migrations"

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by the core and every plugin's models."""

    metadata = sa.MetaData(naming_convention=_NAMING)


def engine_for(url: str) -> Engine:
    """An engine for ``url`` with authhub's defaults.

    ``postgresql://`` means psycopg 3. Statement parameters are never put
    into error messages (they can hold digests and user names).

    :raises DatabaseURLError: ``url`` does not parse, names an unknown
        database, or its driver is not installed.
    """
    parsed = parse_url(url)
    options: dict[str, Any] = {"hide_parameters": True}
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "postgresql":
        options.update(pool_size=10, max_overflow=20, pool_timeout=5, connect_args={"connect_timeout": 3})
    try:
        engine = sa.create_engine(parsed, **options)
    except sa.exc.NoSuchModuleError:
        raise unknown_database(parsed) from None
    except ImportError as exc:
        raise missing_driver(parsed, exc) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and one writer proceed together; foreign keys are off
    # by default in SQLite and our tables rely on them.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store:
    """The database behind one hub: its engine, sessions, and the connections kept for prepared reads.

    The store owns :attr:`kept`; a plugin's prepared reads share it and never close it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.kept = KeptConnections(self.engine)

    def prepare(self, statement: sa.Select[Any]) -> PreparedRead:
        """A read for the request path, compiled once and run on kept connections (:mod:`authhub.reads`)."""
        return PreparedRead(self.engine, statement, self.kept)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction, committed on success, translating outages to 503."""
        with outage_as_503(), self.sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on success, translating outages to 503."""
        with outage_as_503(), self.engine.begin() as connection:
            yield connection

    def check(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers."""
        with self.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def upgrade(self, directories: Iterable[str]) -> None:
        """Apply every migration branch found in ``directories`` (idempotent).

        :raises ConfigurationError: the database holds revisions that no installed
            distribution ships (a plugin uninstalled or blocked after it made its tables).
        """
        with self.connect() as connection:
            config = migration_config(directories)
            config.attributes["connection"] = connection
            check_known_revisions(connection, config)
            command.upgrade(config, "heads")

    def current_revisions(self, directories: Iterable[str]) -> set[str]:
        from alembic.runtime.migration import MigrationContext

        with self.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())

    def dispose(self) -> None:
        self.kept.close()
        self.engine.dispose()


def check_known_revisions(connection: Connection, config: Config) -> None:
    """Refuse, naming them, the revisions of the database that no installed branch knows."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    unknown = sorted(set(MigrationContext.configure(connection).get_current_heads()) - known)
    if unknown:
        raise ConfigurationError(
            f"the database holds revisions that no installed plugin ships: {', '.join(unknown)}; "
            "install (or stop blocking with AUTHHUB_BLOCK_PLUGINS) the plugin that made them, "
            "or give this configuration a database of its own"
        )


def migration_config(directories: Iterable[str]) -> Config:
    """An Alembic configuration whose version locations are the given directories."""
    config = Config()
    config.set_main_option("script_location", str(CORE_MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join([str(CORE_MIGRATIONS / "versions"), *directories]))
    return config
