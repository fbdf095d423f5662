"""The one query on the request path: token by digest, joined with its user.

It is a SQLAlchemy Core ``select`` built once per model and prepared on
the hub's store (:meth:`authhub.store.Store.prepare`): compiled once for the
dialect and run on DBAPI connections kept for the request path, without
the Core execution layer (on SQLite with 10,000 tokens: the query alone
~5 us, through ``Connection.execute`` ~28 us). Values come back converted
as SQLAlchemy would (SQLite's timestamps become datetimes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from authhub import ConfigurationError
from authhub.store import Store
from authhub.users import UserRecord
from authhub_token.models import BaseToken

#: Columns with a meaning of their own; any other column of a custom model is "extra".
KNOWN = frozenset({"user_id", "digest", "revoked", "name", "scopes", "created_at", "last_used_at", "expires_at"})
#: The optional columns the request path reads, in the order it reads them.
OPTIONAL = ("name", "scopes", "expires_at", "last_used_at")

Processor = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


class TokenLookup:
    """Finds a live (not revoked) token and its user by digest, for one model on one store."""

    def __init__(self, store: Store, model: type[BaseToken]) -> None:
        table = model.__table__
        if not isinstance(table, sa.Table) or not table.primary_key.columns:
            raise ConfigurationError(f"token model {model.__name__}: needs a table with a primary key")
        users = UserRecord.__table__
        self.model = model
        self.table = table
        self.id_column = next(iter(table.primary_key.columns))
        self.has = {name: name in table.c for name in OPTIONAL}
        self.extra_names = tuple(
            column.name for column in table.columns if column.name not in KNOWN and not column.primary_key
        )
        columns: list[Any] = [self.id_column, table.c.user_id, users.c.username, users.c.is_active]
        columns += [table.c[name] if self.has[name] else sa.null() for name in OPTIONAL]
        columns += [table.c[name] for name in self.extra_names]
        statement = (
            sa.select(*columns)
            .join_from(table, users, table.c.user_id == users.c.id)
            .where(table.c.digest == sa.bindparam("digest"), table.c.revoked.is_(sa.false()))
        )
        self.read = store.prepare(statement)
        self.connections = store.kept
        self.sql = self.read.sql
        # The prepared read already converts values; these stay for callers that convert again.
        self.expires_at: Processor = _identity
        self.last_used_at: Processor = _identity
        self.extra_processors: Sequence[Processor] = tuple(_identity for _ in self.extra_names)

    def fetch(self, digest: bytes) -> Sequence[Any] | None:
        """The row for ``digest``: id, user_id, username, is_active, name, scopes,
        expires_at, last_used_at, then the extra columns; ``None`` when there is no live token."""
        return self.read.fetch_one(digest=digest)

    def close(self) -> None:
        self.connections.close()
