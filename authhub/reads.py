"""Prepared reads for the request path.

Every authenticated request runs one or two small indexed ``SELECT``s.
Through SQLAlchemy's execution layer such a query costs several times the
query itself (measured on SQLite with 10,000 rows: ~5 µs for the query,
~28 µs through ``Connection.execute``, ~9 µs with a pool checkout per
request). A :class:`PreparedRead` compiles its statement once for the
engine's dialect and runs it on DBAPI connections kept for the purpose.

Connections come from the engine, so they carry its connect-time setup
(SQLite's pragmas), and are then detached from its pool. PostgreSQL
connections run in autocommit: a lone ``SELECT`` needs no transaction and
each sees the latest commits, so a revocation in another process is seen
by the very next request; SQLite's driver opens no transaction for a
``SELECT``, with the same effect. An outage becomes :class:`StoreUnavailable`
(503); after one, every kept connection is dropped so the next request
reconnects and the hub recovers by itself when the server is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from authhub.errors import StoreUnavailable
from authhub.outages import outage_types

log = logging.getLogger("authhub.reads")

Processor = Callable[[Any], Any]


def _result_processor(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Processor | None:
    """SQLAlchemy's converter for a column's raw DBAPI values (SQLite's timestamps), if any.

    Some dialects need the driver's type code to pick one; without it the
    driver's own value is already right (psycopg returns floats for float8).
    """
    try:
        return type_.dialect_impl(dialect).result_processor(dialect, None)
    except (TypeError, sa.exc.InvalidRequestError):
        return None


class KeptConnections:
    """A few DBAPI connections taken and given back without a lock (list pop/append are atomic)."""

    def __init__(self, engine: Engine, keep: int = 16) -> None:
        self.engine = engine
        self.keep = keep
        self.autocommit = engine.dialect.name == "postgresql"
        self._idle: list[Any] = []

    def acquire(self) -> tuple[Any, bool]:
        """A connection, and whether it was kept from before (rather than just opened)."""
        try:
            return self._idle.pop(), True
        except IndexError:
            return self._open(), False

    def release(self, connection: Any) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(connection)
        else:
            self.discard(connection)

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
        except Exception as exc:  # the server may already have dropped it
            log.debug("closing a kept connection failed: %s", type(exc).__name__)

    def close(self) -> None:
        while self._idle:
            try:
                connection = self._idle.pop()
            except IndexError:
                break
            self.discard(connection)


class PreparedRead:
    """One ``SELECT`` compiled once, run on kept connections.

    :param engine: the store's engine.
    :param statement: a Core ``select`` whose parameters are ``bindparam``\\ s.
    :param connections: connections to run on (share one set per store).
    """

    def __init__(self, engine: Engine, statement: sa.Select[Any], connections: KeptConnections) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.engine = engine
        self.sql = str(compiled)
        self.positional = compiled.positional
        self.positions = tuple(compiled.positiontup or ())
        self.connections = connections
        self.outages = outage_types(dialect.loaded_dbapi)
        processors = (_result_processor(column.type, dialect) for column in statement.selected_columns)
        #: ``(position, processor)`` of the columns that need converting (SQLite's timestamps).
        self.conversions = tuple((index, processor) for index, processor in enumerate(processors) if processor)

    def fetch_one(self, **params: Any) -> Sequence[Any] | None:
        """The first row (values converted as SQLAlchemy would), or ``None``."""
        rows = self._run(params, one=True)
        return rows[0] if rows else None

    def fetch_all(self, **params: Any) -> list[Sequence[Any]]:
        return self._run(params, one=False)

    def _run(self, params: dict[str, Any], one: bool) -> list[Sequence[Any]]:
        arguments: Any = tuple(params[name] for name in self.positions) if self.positional else params
        for attempt in (1, 2):
            try:
                connection, kept = self.connections.acquire()
            except self.outages as exc:
                raise StoreUnavailable() from exc
            except sa.exc.DBAPIError as exc:  # raw_connection() wraps connect errors
                raise StoreUnavailable() from exc
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(self.sql, arguments)
                    rows = [cursor.fetchone()] if one else cursor.fetchall()
                finally:
                    cursor.close()
            except self.outages as exc:
                self.connections.discard(connection)
                # A restart drops every connection: forget them all, as SQLAlchemy
                # does when its own execution layer sees a disconnect.
                self.connections.close()
                self.engine.dispose()
                if kept and attempt == 1:
                    continue  # it went away while idle: once more, on a fresh one
                raise StoreUnavailable() from exc
            except BaseException:
                self.connections.discard(connection)
                raise
            self.connections.release(connection)
            return [self._convert(row) for row in rows if row is not None]
        raise AssertionError("unreachable")  # pragma: no cover

    def _convert(self, row: Sequence[Any]) -> Sequence[Any]:
        if not self.conversions:
            return row
        values = list(row)
        for index, processor in self.conversions:
            value = values[index]
            if value is not None:
                values[index] = processor(value)
        return tuple(values)
