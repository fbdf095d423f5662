"""The one place that decides "the store cannot be reached".

An outage of the database or of Redis refuses the request with 503
(:class:`authhub.StoreUnavailable`), never lets it through, and the hub
recovers by itself once the server is back. Everything that talks to a
store (the chain, :class:`authhub.Store`, the prepared reads, the Redis
stores of the lockout and of plugins) asks :func:`is_outage`, or wraps its
calls in :func:`outage_as_503`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy.exc

from authhub.errors import StoreUnavailable

_SQLALCHEMY = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
)


def outage_types(dbapi: Any = None) -> tuple[type[BaseException], ...]:
    """The exceptions that mean an unreachable store.

    :param dbapi: a DB-API module (``sqlite3``, ``psycopg``) whose own
        ``OperationalError`` and ``InterfaceError`` count too, for code that
        talks to the driver directly (:class:`authhub.PreparedRead`).
    """
    types: list[type[BaseException]] = list(_SQLALCHEMY)
    if dbapi is not None:
        types += [dbapi.OperationalError, dbapi.InterfaceError]
    try:
        import redis.exceptions
    except ImportError:  # Redis is optional
        pass
    else:
        types += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    return tuple(types)


_OUTAGES = outage_types()


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database or Redis cannot be reached."""
    return isinstance(exc, _OUTAGES)


@contextlib.contextmanager
def outage_as_503() -> Iterator[None]:
    """Turn an outage raised inside the block into :class:`authhub.StoreUnavailable` (503)."""
    try:
        yield
    except _OUTAGES as exc:
        raise StoreUnavailable() from exc
