"""Where sessions live: the hub's SQL database (default) or Redis.

Both stores keep the same :class:`SessionData` under the SHA-256 digest of
the session id, never the id itself, and answer the same calls. The
stores know nothing about timeouts except for purging and Redis' own
expiry; whether a session is still valid is decided by :mod:`.scheme`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Protocol

import attrs
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

import authhub
from authhub import User

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@attrs.frozen
class SessionData:
    """One server-side session.

    ``user_id`` is the user store's id as text (``str(user.id)``), whatever
    the store's own id type. ``user`` is the user when the store could fetch
    it along with the session (the SQL store on the built-in user table),
    else ``None`` and the scheme asks the hub's user store.
    """

    digest: str = attrs.field(repr=False)
    user_id: str
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

    def delete_user(self, user_id: str) -> int:
        """Forget every session of a user (``str(user.id)``); return how many there were."""

    def purge(self, idle_before: dt.datetime, created_before: dt.datetime) -> int:
        """Delete sessions idle since ``idle_before`` or created before ``created_before``."""

    def close(self) -> None:
        """Release the store's own connections (never the hub's)."""


# -- SQL ----------------------------------------------------------------------------


class SessionRecord(authhub.Base):
    """A row of ``authhub_session``.

    ``user_id`` is the user store's id as text, with no foreign key: users
    may live in an application's own table (migration ``authhub_session_0002``).
    """

    __tablename__ = "authhub_session"

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    csrf_secret: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)

    def __repr__(self) -> str:
        return f"<SessionRecord user_id={self.user_id}>"


_SESSIONS: sa.Table = SessionRecord.__table__  # type: ignore[assignment]


class SQLSessionStore:
    """Sessions in the ``authhub_session`` table of the hub's database.

    :param store: the hub's :class:`authhub.Store`.
    :param join_users: fetch the user in the same query (only when the
        hub's user store is the built-in :class:`authhub.SQLUserStore`).
    """

    def __init__(self, store: authhub.Store, *, join_users: bool) -> None:
        self._store = store
        self._join_users = join_users
        columns = [_SESSIONS.c.digest, _SESSIONS.c.user_id, _SESSIONS.c.csrf_secret,
                   _SESSIONS.c.created_at, _SESSIONS.c.last_seen_at]
        if join_users:
            users = authhub.SQLUserStore.table
            # One round trip per request instead of two; the cast keeps the user's primary key index in use.
            select = (
                sa.select(*columns, users.c.id, users.c.username, users.c.is_active)
                .select_from(_SESSIONS.join(users, users.c.id == sa.cast(_SESSIONS.c.user_id, sa.Integer)))
                .where(_SESSIONS.c.digest == sa.bindparam("digest"))
            )
        else:
            select = sa.select(*columns).where(_SESSIONS.c.digest == sa.bindparam("digest"))
        # Run on every request a browser makes: prepared once, on the store's kept connections.
        self._select = store.prepare(select)

    def add(self, session: SessionData, keep_for: int) -> None:
        with self._store.connect() as connection:
            connection.execute(_SESSIONS.insert().values(
                digest=session.digest, user_id=session.user_id, csrf_secret=session.csrf_secret,
                created_at=session.created_at, last_seen_at=session.last_seen_at,
            ))

    def get(self, digest: str) -> SessionData | None:
        row = self._select.fetch_one(digest=digest)
        if row is None:
            return None
        user = User(row[5], row[6], bool(row[7])) if self._join_users else None
        return SessionData(row[0], row[1], row[2], _timestamp(row[3]), _timestamp(row[4]), user=user)

    def touch(self, session: SessionData, when: dt.datetime, keep_for: int) -> None:
        with self._store.connect() as connection:
            connection.execute(
                _SESSIONS.update().where(_SESSIONS.c.digest == session.digest).values(last_seen_at=when)
            )

    def delete(self, digest: str) -> None:
        with self._store.connect() as connection:
            connection.execute(_SESSIONS.delete().where(_SESSIONS.c.digest == digest))

    def delete_user(self, user_id: str) -> int:
        with self._store.connect() as connection:
            deleted: int = connection.execute(_SESSIONS.delete().where(_SESSIONS.c.user_id == user_id)).rowcount
        return deleted

    def purge(self, idle_before: dt.datetime, created_before: dt.datetime) -> int:
        with self._store.connect() as connection:
            purged: int = connection.execute(_SESSIONS.delete().where(sa.or_(
                _SESSIONS.c.last_seen_at < idle_before, _SESSIONS.c.created_at < created_before,
            ))).rowcount
        return purged

    def close(self) -> None:
        """Nothing of its own: the connections are the hub's store's."""


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
    for :meth:`delete_user`. An unreachable server is a 503
    (:func:`authhub.outage_as_503`).

    :param url: a ``redis://``, ``rediss://`` or ``unix://`` URL.
    :param prefix: the start of every key this store writes.
    """

    def __init__(self, url: str, *, prefix: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3,
                                           health_check_interval=30)
        self._touch = self._redis.register_script(_TOUCH)
        self.prefix = prefix

    def _session_key(self, digest: str) -> str:
        return f"{self.prefix}s:{digest}"

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}u:{user_id}"

    def add(self, session: SessionData, keep_for: int) -> None:
        key, index = self._session_key(session.digest), self._user_key(session.user_id)
        keep = max(1, keep_for)
        with authhub.outage_as_503(), self._redis.pipeline() as pipe:
            pipe.hset(key, mapping={
                "user_id": session.user_id,
                "csrf_secret": session.csrf_secret,
                "created_at": repr(session.created_at.timestamp()),
                "last_seen_at": repr(session.last_seen_at.timestamp()),
            })
            pipe.expire(key, keep)
            pipe.sadd(index, session.digest)
            # The index lives as long as the user's longest-lived session.
            pipe.expire(index, keep, gt=True)
            pipe.expire(index, keep, nx=True)
            pipe.execute()

    def get(self, digest: str) -> SessionData | None:
        with authhub.outage_as_503():
            fields: dict[bytes, bytes] = self._redis.hgetall(self._session_key(digest))  # type: ignore[assignment]
        if not fields or b"user_id" not in fields:
            return None
        # Earlier versions also wrote 'user_id_type'; the id is text either way now.
        return SessionData(
            digest, fields[b"user_id"].decode(), fields[b"csrf_secret"].decode(),
            _from_timestamp(fields[b"created_at"]), _from_timestamp(fields[b"last_seen_at"]),
        )

    def touch(self, session: SessionData, when: dt.datetime, keep_for: int) -> None:
        # Atomic, so a session that expired or was deleted in between is not
        # brought back as a hash without its other fields.
        with authhub.outage_as_503():
            self._touch(keys=[self._session_key(session.digest), self._user_key(session.user_id)],
                        args=[repr(when.timestamp()), max(1, math.ceil(keep_for)), session.digest])

    def delete(self, digest: str) -> None:
        key = self._session_key(digest)
        with authhub.outage_as_503():
            user_id: bytes | None = self._redis.hget(key, "user_id")  # type: ignore[assignment]
            with self._redis.pipeline() as pipe:
                pipe.delete(key)
                if user_id is not None:
                    pipe.srem(self._user_key(user_id.decode()), digest)
                pipe.execute()

    def delete_user(self, user_id: str) -> int:
        index = self._user_key(user_id)
        with authhub.outage_as_503():
            digests: set[bytes] = self._redis.smembers(index)  # type: ignore[assignment]
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
        with authhub.outage_as_503():
            for index in self._redis.scan_iter(match=f"{self.prefix}u:*", count=500):
                members: set[bytes] = self._redis.smembers(index)  # type: ignore[assignment]
                for raw in members:
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
