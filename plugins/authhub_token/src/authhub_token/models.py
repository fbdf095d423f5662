"""The token models: the :class:`BaseToken` contract and the default :class:`Token`.

The ``token_model`` hook decides which model a hub uses. This plugin
answers last with :class:`Token`; an application plugin that returns its
own subclass of :class:`BaseToken` (with its own table and its own
migration branch) takes over.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

import authhub
from authhub_token.keys import digest, generate_key, is_well_formed

MAX_NAME = 100
MAX_SCOPES = 1000
#: Room for any user store's ids as text (integers, UUIDs, e-mail addresses...).
MAX_USER_ID = 255


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class BaseToken(authhub.Base):
    """What every token model provides: ``user_id``, ``digest`` and ``revoked`` (and ``key``).

    ``user_id`` is the user's id as text (``str(user.id)``), whatever the
    user store: there is no foreign key to ``authhub_user``, so tokens work
    with an application's own users too. ``key`` is the plaintext: it
    exists only on the object that created it (``Token(user_id="1").key``,
    filled with a fresh random key when none is given) and is never stored;
    the table keeps its SHA-256 in ``digest`` (unique, indexed). A subclass
    names its table and declares a primary key; the columns ``name``,
    ``scopes``, ``created_at``, ``last_used_at`` and ``expires_at`` are used
    when the subclass has them, and any other column is handed to the
    application in ``request.auth.extra``.
    """

    __abstract__ = True

    user_id: Mapped[str] = mapped_column(sa.String(MAX_USER_ID), index=True)
    digest: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    revoked: Mapped[bool] = mapped_column(default=False)

    #: The plaintext key: set only on the object that created the token,
    #: ``None`` on every token read back from the database.
    key: ClassVar[str | None] = None

    def __init__(self, *, key: str | None = None, **fields: Any) -> None:
        if key is None:
            key = generate_key()
        elif not is_well_formed(key):
            raise ValueError("key is not a well-formed authhub token key")
        super().__init__(digest=digest(key), **fields)
        self.key = key  # type: ignore[misc]  # an instance value shadowing the class default

    def __repr__(self) -> str:
        identity = ", ".join(f"{column.name}={getattr(self, str(column.key), None)!r}"
                             for column in sa.inspect(type(self)).primary_key)
        return f"<{type(self).__name__} {identity} user_id={self.user_id!r} revoked={self.revoked!r}>"


class Token(BaseToken):
    """The default token: an id, a name, optional scopes, timestamps and an expiry."""

    __tablename__ = "authhub_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(MAX_NAME), default="default")
    #: Space-separated, as in OAuth; empty for none.
    scopes: Mapped[str] = mapped_column(sa.String(MAX_SCOPES), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
