"""The one query on the request path: token by digest, joined with its user.

It is a SQLAlchemy Core ``select`` built once per model and compiled once
for the engine's dialect, then run on a DBAPI connection of its own
without the Core execution layer. Measured on SQLite with 10,000 tokens:
the query alone ~5 us; through ``Connection.execute`` ~28 us; on a
connection checked out of the pool for each request ~9 us; on a kept
connection ~5 us. This runs on every request, so it takes the last.
Result values that need it (SQLite's timestamps) go through the column
type's own SQLAlchemy result processor, so they match what the ORM gives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from authhub import ConfigurationError, StoreUnavailable
from authhub.users import UserRecord
from authhub_token.models import BaseToken

log = logging.getLogger("authhub.token")

#: Columns with a meaning of their own; any other column of a custom model is "extra".
KNOWN = frozenset({"user_id", "digest", "revoked", "name", "scopes", "created_at", "last_used_at", "expires_at"})
#: The optional columns the request path reads, in the order it reads them.
OPTIONAL = ("name", "scopes", "expires_at", "last_used_at")

Processor = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


class TokenLookup:
    """Finds a live (not revoked) token and its user by digest, for one model on one engine."""

    def __init__(self, engine: Engine, model: type[BaseToken]) -> None:
        table = model.__table__
        if not isinstance(table, sa.Table) or not table.primary_key.columns:
            raise ConfigurationError(f"token model {model.__name__}: needs a table with a primary key")
        users = UserRecord.__table__
        self.model = model
        self.table = table
        self.id_column = next(iter(table.primary_key.columns))
        self.has = {name: name in table.c for name in OPTIONAL}
        self.extra_names = tuple(column.name for column in table.columns
                                 if column.name not in KNOWN and not column.primary_key)
        columns: list[Any] = [self.id_column, table.c.user_id, users.c.username, users.c.is_active]
        columns += [table.c[name] if self.has[name] else sa.null() for name in OPTIONAL]
        columns += [table.c[name] for name in self.extra_names]
        statement = (
            sa.select(*columns)
            .join_from(table, users, table.c.user_id == users.c.id)
            .where(table.c.digest == sa.bindparam("digest"), table.c.revoked.is_(sa.false()))
        )
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.engine = engine
        self.sql = str(compiled)
        self.positional = compiled.positional
        self.expires_at = self._processor(table.c.expires_at if self.has["expires_at"] else None, dialect)
        self.last_used_at = self._processor(table.c.last_used_at if self.has["last_used_at"] else None, dialect)
        self.extra_processors: Sequence[Processor] = tuple(
            self._processor(table.c[name], dialect) for name in self.extra_names
        )
        dbapi = dialect.loaded_dbapi
        self.outages: tuple[type[BaseException], ...] = (dbapi.OperationalError, dbapi.InterfaceError)
        self.connections = Connections(engine)

    @staticmethod
    def _processor(column: sa.Column[Any] | None, dialect: sa.Dialect) -> Processor:
        if column is None:
            return _identity
        processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
        return processor if processor is not None else _identity

    def fetch(self, digest: bytes) -> Sequence[Any] | None:
        """The row for ``digest``: id, user_id, username, is_active, name, scopes,
        expires_at, last_used_at, then the extra columns; ``None`` when there is no live token."""
        for attempt in (1, 2):
            try:
                connection, kept = self.connections.acquire()
            except self.outages as exc:  # Engine.raw_connection() does not wrap DBAPI errors
                raise StoreUnavailable() from exc
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(self.sql, (digest,) if self.positional else {"digest": digest})
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except self.outages as exc:
                self.connections.discard(connection)
                # The other kept connections, and the engine's idle ones, most likely
                # lost the server too (a restart): drop them all, as SQLAlchemy does
                # when its own execution layer sees a disconnect.
                self.connections.close()
                self.engine.dispose()
                if kept and attempt == 1:
                    continue  # the server went away while it was idle (a restart): once more, on a fresh one
                raise StoreUnavailable() from exc
            except BaseException:
                self.connections.discard(connection)
                raise
            self.connections.release(connection)
            return row  # type: ignore[no-any-return]  # a DBAPI row
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self.connections.close()


class Connections:
    """A few DBAPI connections kept for the lookup alone, taken and given back without a lock.

    Each comes from the engine (so it has the engine's connect-time setup,
    such as SQLite's pragmas) and is then detached from the engine's pool:
    a checkout from ``QueuePool`` costs as much as the query itself. At most
    ``keep`` idle connections are kept; more concurrent requests open more
    and close them afterwards. PostgreSQL connections run in autocommit: one
    statement needs no transaction, and each sees the latest commits, so a
    revocation elsewhere is seen by the very next request. (SQLite's driver
    opens no transaction for a ``SELECT``, with the same effect.)
    """

    def __init__(self, engine: Engine, keep: int = 16) -> None:
        self.engine = engine
        self.keep = keep
        self.autocommit = engine.dialect.name == "postgresql"
        self._idle: list[Any] = []

    def acquire(self) -> tuple[Any, bool]:
        """A connection, and whether it was kept from before (rather than just opened)."""
        try:
            return self._idle.pop(), True  # list.pop and list.append are atomic: no lock needed
        except IndexError:
            return self._open(), False

    def release(self, connection: Any) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(connection)
        else:
            connection.close()

    def _open(self) -> Any:
        pooled = self.engine.raw_connection()
        connection: Any = pooled.dbapi_connection
        pooled.detach()
        if self.autocommit:
            connection.autocommit = True
        return connection

    def discard(self, connection: Any) -> None:
        try:
            connection.close()
        except Exception as exc:  # closing a connection the server already dropped
            log.debug("closing a token lookup connection failed: %s", type(exc).__name__)

    def close(self) -> None:
        """Close the idle connections (busy ones are closed when given back to a full list)."""
        while self._idle:
            try:
                connection = self._idle.pop()
            except IndexError:
                break
            self.discard(connection)
