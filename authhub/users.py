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
from precis_i18n import get_profile
from sqlalchemy.orm import Mapped, Session, mapped_column

from authhub.errors import AuthenticationFailed, ConfigurationError, UserInactive
from authhub.identity import User
from authhub.store import Base

if TYPE_CHECKING:
    from authhub.hub import AuthHub

INVALID_CREDENTIALS = "Invalid username/password."
MAX_USERNAME = 150
#: RFC 8265 §3.3: width mapping, lower case, NFC; refuses spaces, controls and unassigned code points.
USERNAME_PROFILE = get_profile("UsernameCaseMapped")
#: Scripts whose letters look alike: a name mixing them ('al' + Cyrillic 'i' U+0456 + 'ce') is refused.
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC"})


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

    :meth:`get_by_username` and :meth:`check_password` receive the name as
    the client sent it: how names compare is the store's decision. The
    built-in :class:`SQLUserStore` applies RFC 8265's UsernameCaseMapped
    profile on create and on every lookup (an upper-case or fullwidth
    spelling finds the same user; text no database stores is never
    queried); a store of your own that wants the same normalises in these
    methods. The lockout counts ``user:<name>`` under the profile's form
    whatever the store, so spellings of one name share one count.
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
        row = None
        for name in username_candidates(username):
            row = self._by_username.fetch_one(username=name)
            if row is not None:
                break
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
        for name in username_candidates(username):
            row = self._user_by_name.fetch_one(username=name)
            if row is not None:
                return User(row[0], row[1], bool(row[2]))
        return None

    # -- management (CLI, applications) ---------------------------------------

    def create(self, username: str, password: str, *, is_active: bool = True) -> User:
        """Add a user under the canonical form of ``username`` (:func:`canonical_username`)."""
        username = check_username(username)
        check_password_value(password)
        password_hash = self.hasher.hash(password)
        with self._hub.store.session() as session:
            # lower(): rows stored before names were normalised ('Alice') still count as taken.
            taken = sa.or_(UserRecord.username == username, sa.func.lower(UserRecord.username) == username)
            if session.scalar(sa.select(UserRecord.id).where(taken).limit(1)) is not None:
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
        record: UserRecord | None = None
        for name in username_candidates(username):
            record = session.scalar(sa.select(UserRecord).where(UserRecord.username == name))
            if record is not None:
                break
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


def check_username(username: str) -> str:
    """The canonical form of a new user name; :class:`UserError` saying why it cannot be one."""
    if not username or not username.strip():
        raise UserError("a user name must not be empty")
    if len(username) > MAX_USERNAME:
        raise UserError(f"a user name is at most {MAX_USERNAME} characters")
    if ":" in username:
        # RFC 7617: the user-id ends at the first colon, so it can never hold one.
        raise UserError("a user name must not contain ':'")
    if any(unicodedata.category(char).startswith("C") for char in username):
        raise UserError("a user name must not contain control characters")
    canonical = canonical_username(username)
    if len(canonical) > MAX_USERNAME:
        raise UserError(f"a user name is at most {MAX_USERNAME} characters")
    scripts = {unicodedata.name(char, "").split(" ")[0] for char in canonical if char.isalpha()}
    if len(scripts & _CONFUSABLE_SCRIPTS) > 1:
        raise UserError("a user name must not mix Latin, Greek and Cyrillic letters")
    return canonical


def canonical_username(username: str) -> str:
    """``username`` under RFC 8265's UsernameCaseMapped profile: fullwidth 'Alice' and 'ALICE' are 'alice'.

    Fullwidth and halfwidth forms are mapped to their usual width, letters
    to lower case, the result to NFC; spaces, control, unassigned and other
    disallowed code points are refused (:class:`UserError`).
    """
    if username.isascii() and username.isprintable() and " " not in username and username:
        return username.lower()  # what the profile gives for printable ASCII, without its cost
    if len(username) > 4 * MAX_USERNAME:
        raise UserError(f"a user name is at most {MAX_USERNAME} characters")
    try:
        canonical: str = USERNAME_PROFILE.enforce(username)
    except UnicodeEncodeError:
        raise UserError("a user name must not contain spaces, control or unassigned characters") from None
    return canonical


def username_candidates(username: str) -> tuple[str, ...]:
    """The stored names a lookup of ``username`` tries, in order: its canonical form, then as given.

    The second is for rows stored before names were normalised ('Alice');
    text no database can store (NUL, lone surrogates) is never looked up.
    """
    try:
        canonical = canonical_username(username)
    except UserError:
        canonical = None
    names = [canonical] if canonical is not None and len(canonical) <= MAX_USERNAME else []
    if username != canonical and 0 < len(username) <= MAX_USERNAME and is_storable_text(username):
        names.append(username)
    return tuple(names)


def is_storable_text(text: str) -> bool:
    """Whether every database authhub supports can store and compare ``text`` (no NUL, no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
