"""The one read on the request path: a live token by digest.

It is a SQLAlchemy Core ``select`` built once per hub and prepared on the
hub's store (:meth:`authhub.Store.prepare`): compiled once for the dialect
and run on the store's kept DBAPI connections, without the Core execution
layer (on SQLite with 10,000 tokens: the query alone ~5 µs, through
``Connection.execute`` ~28 µs). Values come back converted as SQLAlchemy
would (SQLite's timestamps become datetimes).

With the built-in user store the read joins ``authhub_user``, so one query
brings the user too; with any other store it reads the token alone and
the scheme asks the store for the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

import authhub
from authhub_token.models import BaseToken

#: Columns with a meaning of their own; any other column of a custom model is "extra".
KNOWN = frozenset({"user_id", "digest", "revoked", "name", "scopes", "created_at", "last_used_at", "expires_at"})
#: The optional columns the request path reads, in the order it reads them.
OPTIONAL = ("name", "scopes", "expires_at", "last_used_at")

# Positions in a row, whichever the read: the token's id, the user's id
# (``authhub_user.id`` when joined, else the token's ``user_id`` text), then OPTIONAL.
ID, USER_ID, NAME, SCOPES, EXPIRES_AT, LAST_USED_AT = range(6)
#: With the join, the user's name and status follow.
USERNAME, IS_ACTIVE = 6, 7


class TokenLookup:
    """Finds a live (not revoked) token by digest, for one model on one store.

    :param store: the hub's store; its kept connections are shared, never closed here.
    :param model: the hub's token model.
    :param users: ``authhub.SQLUserStore.table`` to join, or ``None`` to read the token alone.
    """

    def __init__(self, store: authhub.Store, model: type[BaseToken], users: sa.Table | None) -> None:
        table = model.__table__
        if not isinstance(table, sa.Table) or not table.primary_key.columns:
            raise authhub.ConfigurationError(f"token model {model.__name__}: needs a table with a primary key")
        self.model = model
        self.table = table
        self.id_column: sa.Column[Any] = next(iter(table.primary_key.columns))
        self.has = {name: name in table.c for name in OPTIONAL}
        self.extra_names = tuple(
            column.name for column in table.columns if column.name not in KNOWN and not column.primary_key
        )
        self.joined = users is not None
        columns: list[Any] = [self.id_column, users.c.id if users is not None else table.c.user_id]
        columns += [table.c[name] if self.has[name] else sa.null() for name in OPTIONAL]
        if users is not None:
            columns += [users.c.username, users.c.is_active]
        #: Where the extra columns start in a row.
        self.extra_start = len(columns)
        columns += [table.c[name] for name in self.extra_names]
        statement = sa.select(*columns)
        if users is not None:
            # The cast is on the token's side, so the user is found through its primary key.
            statement = statement.join_from(table, users, users.c.id == sa.cast(table.c.user_id, sa.Integer))
        statement = statement.where(table.c.digest == sa.bindparam("digest"), table.c.revoked.is_(sa.false()))
        self.read = store.prepare(statement)
        self.sql = self.read.sql

    def fetch(self, digest: bytes) -> Sequence[Any] | None:
        """The live token's row for ``digest`` (see the positions above); ``None`` when there is none."""
        return self.read.fetch_one(digest=digest)
