"""One SELECT run straight on the database driver, for the per-request lookup.

SQLAlchemy compiles the statement once per engine; each call then takes a
connection from the engine's pool and runs the compiled SQL on the DBAPI
cursor. This skips SQLAlchemy's per-execution bookkeeping, which costs
several times the query itself on SQLite — and this query runs on every
request a browser makes. Writes keep going through SQLAlchemy.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from authhub import StoreUnavailable


class DriverQuery:
    """A compiled SELECT, runnable on any engine it was compiled for."""

    def __init__(self, statement: sa.Select[Any]) -> None:
        self._statement = statement
        self._compiled: dict[int, tuple[Engine, str, tuple[str, ...] | None, tuple[type[Exception], ...]]] = {}
        self._lock = threading.Lock()

    def _for(self, engine: Engine) -> tuple[Engine, str, tuple[str, ...] | None, tuple[type[Exception], ...]]:
        entry = self._compiled.get(id(engine))
        if entry is None or entry[0] is not engine:
            compiled = self._statement.compile(dialect=engine.dialect)
            positions = tuple(compiled.positiontup or ()) if compiled.positional else None
            dbapi = engine.dialect.loaded_dbapi
            outages = (dbapi.OperationalError, dbapi.InterfaceError)
            entry = (engine, str(compiled), positions, outages)
            with self._lock:
                self._compiled[id(engine)] = entry
        return entry

    def first(self, engine: Engine, parameters: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, as the driver returns it; an unreachable database is :class:`StoreUnavailable`."""
        _, sql, positions, outages = self._for(engine)
        values: Any = tuple(parameters[name] for name in positions) if positions is not None else parameters
        try:
            connection = engine.raw_connection()
        except (sa.exc.DBAPIError, *outages) as exc:
            raise StoreUnavailable() from exc
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, values)
                return cursor.fetchone()
            finally:
                cursor.close()
        except outages as exc:
            connection.invalidate(exc)
            raise StoreUnavailable() from exc
        finally:
            connection.close()  # back to the pool, which rolls back what the SELECT opened
