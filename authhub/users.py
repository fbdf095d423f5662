"""Users: the built-in table with argon2id hashes, and the store protocol.

An application that keeps its users elsewhere implements :class:`UserStore`
and hands it in through the ``user_store`` hook; the schemes only ever talk
to the protocol.
"""

from __future__ import annotations

import datetime as dt
import threading
import unicodedata
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import argon2
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from authhub.errors import AuthenticationFailed, ConfigurationError, UserInactive
from authhub.identity import User
from authhub.store import Base

if TYPE_CHECKING:
    from authhub.hub import AuthHub

INVALID_CREDENTIALS = "Invalid username/password."
MAX_USERNAME = 150


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UserRecord(Base):
    """A row of ``authhub_user``."""

    __tablename__ = "authhub_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(MAX_USERNAME), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"<UserRecord id={self.id} username={self.username!r}>"


class UserError(ValueError):
    """A user-management request that cannot be done (exists, unknown, invalid)."""


@runtime_checkable
class UserStore(Protocol):
    """What every scheme and command needs from wherever users live.

    A user is any object with ``id``, ``username`` and ``is_active``
    (:class:`authhub.User` is one). Ids may be integers or strings (UUIDs);
    tables that refer to a user keep ``str(user.id)``, and :meth:`get`
    is handed that text form too.
    """

    def get(self, user_id: Any) -> Any | None:
        """The user with this id (or its ``str()``), ``None`` when there is none."""

    def get_by_username(self, username: str) -> Any | None:
        """The user with this name, ``None`` when there is none."""

    def check_password(self, username: str, password: str) -> Any:
        """Return the user, or raise :class:`authhub.AuthenticationFailed`.

        ``"Invalid username/password."`` for an unknown user or a wrong
        password (both taking the same time), :class:`authhub.UserInactive`
        for a right password of an inactive user.
        """


@runtime_checkable
class ManagedUserStore(UserStore, Protocol):
    """A user store that ``authhub users ...`` can also manage (the built-in one is).

    After a change of password or status it calls
    :meth:`authhub.AuthHub.user_changed`, so caches and sessions follow.
    """

    def create(self, username: str, password: str, *, is_active: bool = True) -> Any: ...

    def set_password(self, username: str, password: str) -> None: ...

    def deactivate(self, username: str) -> None: ...

    def activate(self, username: str) -> None: ...

    def list(self) -> list[Any]: ...


class SQLUserStore:
    """The built-in user store on the hub's database (table ``authhub_user``, integer ids).

    Plugins may join :attr:`table` in their own queries when
    ``isinstance(hub.users, SQLUserStore)``, as an optimisation; with any
    other store they go through the :class:`UserStore` methods.
    """

    #: The ``authhub_user`` table: ``id`` (integer), ``username``, ``is_active``.
    table: sa.Table = UserRecord.__table__  # type: ignore[assignment]

    def __init__(self, hub: AuthHub) -> None:
        self._hub = hub
        settings = hub.settings
        check_argon2_parameters(settings["password_time_cost"], settings["password_memory_cost"],
                                settings["password_parallelism"])
        self.hasher = argon2.PasswordHasher(
            time_cost=settings["password_time_cost"],
            memory_cost=settings["password_memory_cost"],
            parallelism=settings["password_parallelism"],
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None
        self._lock = threading.Lock()
        table = UserRecord.__table__
        self._by_username = hub.store.prepare(
            sa.select(table.c.id, table.c.username, table.c.password_hash, table.c.is_active).where(
                table.c.username == sa.bindparam("username")
            )
        )
        self._user_by_id = hub.store.prepare(
            sa.select(table.c.id, table.c.username, table.c.is_active).where(table.c.id == sa.bindparam("id"))
        )
        self._user_by_name = hub.store.prepare(
            sa.select(table.c.id, table.c.username, table.c.is_active).where(
                table.c.username == sa.bindparam("username")
            )
        )

    # -- what schemes call --------------------------------------------------

    def check_password(self, username: str, password: str) -> User:
        row = self._by_username.fetch_one(username=username)
        if row is None:
            self._verify(self._dummy(), password)  # same cost as a wrong password
            raise AuthenticationFailed(INVALID_CREDENTIALS)
        user_id, name, password_hash, is_active = row
        if not self._verify(password_hash, password):
            raise AuthenticationFailed(INVALID_CREDENTIALS)
        if not is_active:
            raise UserInactive()
        if self.hasher.check_needs_rehash(password_hash):
            self._store_hash(name, self.hasher.hash(password))
        return User(user_id, name, bool(is_active))

    def get(self, user_id: Any) -> User | None:
        if isinstance(user_id, str):
            if not user_id.isascii() or not user_id.isdigit():
                return None  # not an id of this table
            user_id = int(user_id)
        row = self._user_by_id.fetch_one(id=user_id)
        return None if row is None else User(row[0], row[1], bool(row[2]))

    def get_by_username(self, username: str) -> User | None:
        row = self._user_by_name.fetch_one(username=username)
        return None if row is None else User(row[0], row[1], bool(row[2]))

    # -- management (CLI, applications) ---------------------------------------

    def create(self, username: str, password: str, *, is_active: bool = True) -> User:
        check_username(username)
        check_password_value(password)
        password_hash = self.hasher.hash(password)
        with self._hub.store.session() as session:
            if session.scalar(sa.select(UserRecord.id).where(UserRecord.username == username)) is not None:
                raise UserError(f"user {username!r} already exists")
            record = UserRecord(username=username, password_hash=password_hash, is_active=is_active)
            session.add(record)
            try:
                session.flush()
            except sa.exc.IntegrityError:
                raise UserError(f"user {username!r} already exists") from None
            return User(record.id, record.username, record.is_active)

    def set_password(self, username: str, password: str) -> None:
        check_password_value(password)
        self._changed(self._store_hash(username, self.hasher.hash(password)))

    def deactivate(self, username: str) -> None:
        self._changed(self._set_active(username, False))

    def activate(self, username: str) -> None:
        self._changed(self._set_active(username, True))

    def list(self) -> list[User]:
        with self._hub.store.session() as session:
            records = session.scalars(sa.select(UserRecord).order_by(UserRecord.id)).all()
            return [User(r.id, r.username, r.is_active) for r in records]

    # -- internals ---------------------------------------------------------------

    def _record(self, session: Session, username: str) -> UserRecord:
        record = session.scalar(sa.select(UserRecord).where(UserRecord.username == username))
        if record is None:
            raise UserError(f"no user named {username!r}")
        return record

    def _store_hash(self, username: str, password_hash: str) -> User:
        with self._hub.store.session() as session:
            record = self._record(session, username)
            record.password_hash = password_hash
            record.updated_at = utcnow()
            return User(record.id, record.username, record.is_active)

    def _set_active(self, username: str, is_active: bool) -> User:
        with self._hub.store.session() as session:
            record = self._record(session, username)
            record.is_active = is_active
            record.updated_at = utcnow()
            return User(record.id, record.username, record.is_active)

    def _changed(self, user: User) -> None:
        self._hub.user_changed(user)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False

    def _dummy(self) -> str:
        with self._lock:
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash("authhub-dummy-password")
            return self._dummy_hash


def check_username(username: str) -> None:
    if not username or not username.strip():
        raise UserError("a user name must not be empty")
    if len(username) > MAX_USERNAME:
        raise UserError(f"a user name is at most {MAX_USERNAME} characters")
    if ":" in username:
        # RFC 7617: the user-id ends at the first colon, so it can never hold one.
        raise UserError("a user name must not contain ':'")
    if any(unicodedata.category(char).startswith("C") for char in username):
        raise UserError("a user name must not contain control characters")


def check_argon2_parameters(time_cost: int, memory_cost: int, parallelism: int) -> None:
    """Refuse argon2id parameters that would fail at the first hash (RFC 9106's bounds)."""
    if time_cost < 1:
        raise ConfigurationError(f"password_time_cost: must be at least 1, got {time_cost}")
    if parallelism < 1:
        raise ConfigurationError(f"password_parallelism: must be at least 1, got {parallelism}")
    if memory_cost < 8 * parallelism:
        raise ConfigurationError(
            f"password_memory_cost: must be at least 8 KiB per lane (8 x password_parallelism = "
            f"{8 * parallelism}), got {memory_cost}"
        )


def check_password_value(password: str) -> None:
    if not password:
        raise UserError("a password must not be empty")
    if any(unicodedata.category(char) == "Cc" for char in password):
        raise UserError("a password must not contain control characters")
