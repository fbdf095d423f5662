"""Where sessions live: the hub's SQL database (default) or Redis.

Both stores keep the same :class:`SessionData` under the SHA-256 digest of
the session id, never the id itself, and answer the same five calls. The
stores know nothing about timeouts except for purging and Redis' own
expiry; whether a session is still valid is decided by :mod:`.scheme`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from authhub import StoreUnavailable, User
from authhub.store import Base
from authhub.users import UserRecord

if TYPE_CHECKING:
    from authhub import AuthHub

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@attrs.frozen
class SessionData:
    """One server-side session.

    ``user`` is the user when the store could fetch it along with the
    session (the SQL store on the built-in user table), else ``None`` and
    the scheme asks the hub's user store.
    """

    digest: str = attrs.field(repr=False)
    user_id: Any
    csrf_secret: str = attrs.field(repr=False)
    created_at: dt.datetime
    last_seen_at: dt.datetime
    user: User | None = attrs.field(default=None, eq=False, kw_only=True)


class SessionStore(Protocol):
    """What the session scheme needs from a store."""

    def add(self, session: SessionData, keep_for: int) -> None:
        """Keep ``session``; it need not be kept beyond ``keep_for`` seconds."""

    def get(self, digest: str) -> SessionData | None:
        """The session stored under ``digest``, ``None`` when there is none."""

    def touch(self, session: SessionData, when: dt.datetime, keep_for: int) -> None:
        """Record activity at ``when``; the session need not be kept beyond ``keep_for`` seconds."""

    def delete(self, digest: str) -> None:
        """Forget one session (nothing happens when it is gone already)."""

    def delete_user(self, user_id: Any) -> int:
        """Forget every session of a user; return how many there were."""

    def purge(self, idle_before: dt.datetime, created_before: dt.datetime) -> int:
        """Delete sessions idle since ``idle_before`` or created before ``created_before``."""


# -- SQL ----------------------------------------------------------------------------


class SessionRecord(Base):
    """A row of ``authhub_session``."""

    __tablename__ = "authhub_session"

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("authhub_user.id", ondelete="CASCADE"), index=True)
    csrf_secret: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)

    def __repr__(self) -> str:
        return f"<SessionRecord user_id={self.user_id}>"


_SESSIONS = SessionRecord.__table__
_USERS = UserRecord.__table__


class SQLSessionStore:
    """Sessions in the ``authhub_session`` table of the hub's database.

    :param hub: the hub whose database holds the table.
    :param join_users: fetch the user in the same query (only when the
        hub's user store is the built-in ``authhub_user`` table).
    """

    def __init__(self, hub: AuthHub, *, join_users: bool) -> None:
        self._hub = hub
        self._join_users = join_users
        columns = [_SESSIONS.c.digest, _SESSIONS.c.user_id, _SESSIONS.c.csrf_secret,
                   _SESSIONS.c.created_at, _SESSIONS.c.last_seen_at]
        if join_users:
            # One round trip per request instead of two.
            select = (
                sa.select(*columns, _USERS.c.username, _USERS.c.is_active)
                .select_from(_SESSIONS.join(_USERS, _USERS.c.id == _SESSIONS.c.user_id))
                .where(_SESSIONS.c.digest == sa.bindparam("digest"))
            )
        else:
            select = sa.select(*columns).where(_SESSIONS.c.digest == sa.bindparam("digest"))
        # Run on every request a browser makes: prepared once, on kept connections.
        self._select = hub.store.prepare(select)

    def add(self, session: SessionData, keep_for: int) -> None:
        with self._hub.store.connect() as connection:
            connection.execute(_SESSIONS.insert().values(
                digest=session.digest, user_id=session.user_id, csrf_secret=session.csrf_secret,
                created_at=session.created_at, last_seen_at=session.last_seen_at,
            ))

    def get(self, digest: str) -> SessionData | None:
        row = self._select.fetch_one(digest=digest)
        if row is None:
            return None
        user = User(row[1], row[5], bool(row[6])) if self._join_users else None
        return SessionData(row[0], row[1], row[2], _timestamp(row[3]), _timestamp(row[4]), user=user)

    def touch(self, session: SessionData, when: dt.datetime, keep_for: int) -> None:
        with self._hub.store.connect() as connection:
            connection.execute(
                _SESSIONS.update().where(_SESSIONS.c.digest == session.digest).values(last_seen_at=when)
            )

    def delete(self, digest: str) -> None:
        with self._hub.store.connect() as connection:
            connection.execute(_SESSIONS.delete().where(_SESSIONS.c.digest == digest))

    def delete_user(self, user_id: Any) -> int:
        with self._hub.store.connect() as connection:
            return connection.execute(_SESSIONS.delete().where(_SESSIONS.c.user_id == user_id)).rowcount

    def purge(self, idle_before: dt.datetime, created_before: dt.datetime) -> int:
        with self._hub.store.connect() as connection:
            return connection.execute(_SESSIONS.delete().where(sa.or_(
                _SESSIONS.c.last_seen_at < idle_before, _SESSIONS.c.created_at < created_before,
            ))).rowcount


def _timestamp(value: dt.datetime) -> dt.datetime:
    # SQLite hands back timestamps without their zone: they were written as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


# -- Redis --------------------------------------------------------------------------


# KEYS: the session hash, the user's index. ARGV: last seen, seconds to keep, the digest.
_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  if redis.call('TTL', KEYS[2]) < tonumber(ARGV[2]) then
    redis.call('EXPIRE', KEYS[2], ARGV[2])
  end
  return 1
end
return 0
"""


class RedisSessionStore:
    """Sessions in Redis, for applications running on many servers.

    Each session is a hash ``<prefix>s:<digest>`` that Redis expires on its
    own; ``<prefix>u:<user id>`` is the set of a user's session digests,
    for :meth:`delete_user`.

    :param url: a ``redis://`` or ``rediss://`` URL.
    :param prefix: the start of every key this store writes.
    """

    def __init__(self, url: str, *, prefix: str) -> None:
        import redis

        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._redis = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3,
                                           health_check_interval=30)
        self._touch = self._redis.register_script(_TOUCH)
        self.prefix = prefix

    def _session_key(self, digest: str) -> str:
        return f"{self.prefix}s:{digest}"

    def _user_key(self, user_id: Any) -> str:
        return f"{self.prefix}u:{user_id}"

    @contextlib.contextmanager
    def _unavailable_as_503(self) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise StoreUnavailable() from exc

    def add(self, session: SessionData, keep_for: int) -> None:
        key = self._session_key(session.digest)
        with self._unavailable_as_503(), self._redis.pipeline() as pipe:
            pipe.hset(key, mapping={
                "user_id": str(session.user_id),
                "user_id_type": "int" if isinstance(session.user_id, int) else "str",
                "csrf_secret": session.csrf_secret,
                "created_at": repr(session.created_at.timestamp()),
                "last_seen_at": repr(session.last_seen_at.timestamp()),
            })
            pipe.expire(key, max(1, keep_for))
            pipe.sadd(self._user_key(session.user_id), session.digest)
            # The index lives as long as the user's longest-lived session.
            pipe.expire(self._user_key(session.user_id), max(1, keep_for), gt=True)
            pipe.expire(self._user_key(session.user_id), max(1, keep_for), nx=True)
            pipe.execute()

    def get(self, digest: str) -> SessionData | None:
        with self._unavailable_as_503():
            fields = self._redis.hgetall(self._session_key(digest))
        if not fields or b"user_id" not in fields:
            return None
        user_id: Any = fields[b"user_id"].decode()
        if fields.get(b"user_id_type") == b"int":
            user_id = int(user_id)
        return SessionData(
            digest, user_id, fields[b"csrf_secret"].decode(),
            _from_timestamp(fields[b"created_at"]), _from_timestamp(fields[b"last_seen_at"]),
        )

    def touch(self, session: SessionData, when: dt.datetime, keep_for: int) -> None:
        # Atomic, so a session that expired or was deleted in between is not
        # brought back as a hash without its other fields.
        with self._unavailable_as_503():
            self._touch(keys=[self._session_key(session.digest), self._user_key(session.user_id)],
                        args=[repr(when.timestamp()), max(1, math.ceil(keep_for)), session.digest])

    def delete(self, digest: str) -> None:
        key = self._session_key(digest)
        with self._unavailable_as_503():
            user_id = self._redis.hget(key, "user_id")
            with self._redis.pipeline() as pipe:
                pipe.delete(key)
                if user_id is not None:
                    pipe.srem(self._user_key(user_id.decode()), digest)
                pipe.execute()

    def delete_user(self, user_id: Any) -> int:
        index = self._user_key(user_id)
        with self._unavailable_as_503():
            digests = self._redis.smembers(index)
            if not digests:
                return 0
            keys = [self._session_key(digest.decode()) for digest in digests]
            with self._redis.pipeline() as pipe:
                pipe.delete(*keys)
                pipe.delete(index)
                deleted, _ = pipe.execute()
        return int(deleted)

    def purge(self, idle_before: dt.datetime, created_before: dt.datetime) -> int:
        """Delete expired sessions Redis has not expired yet, and drop stale index entries."""
        purged = 0
        with self._unavailable_as_503():
            for index in self._redis.scan_iter(match=f"{self.prefix}u:*", count=500):
                for raw in self._redis.smembers(index):
                    digest = raw.decode()
                    session = self.get(digest)
                    if session is None:
                        self._redis.srem(index, raw)
                    elif session.last_seen_at < idle_before or session.created_at < created_before:
                        self.delete(digest)
                        purged += 1
        return purged

    def close(self) -> None:
        self._redis.close()


def _from_timestamp(raw: bytes) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=float(raw))
