"""Lockout and backoff for repeated failed attempts.

Schemes that check a secret (a password, a token, a client secret) ask the
hub's :class:`Lockout` around the check, naming the *subject* of the
attempt (``"user:alice"``, ``"token:ahk_3f9a"``, ``"client:app-1"``)::

    hub.lockout.check(request, subject)      # 429 while locked
    ...verify the secret...
    hub.lockout.failed(request, subject)     # on a wrong secret
    hub.lockout.succeeded(request, subject)  # on a right one

Each attempt counts against three keys. The pair *(subject, address)*:
from ``lockout_backoff_after`` failures in ``lockout_window`` seconds each
further failure locks it for a doubling delay (1 s, 2 s, 4 s, ...), and at
``lockout_threshold`` failures it is locked for ``lockout_duration``
seconds. The subject alone and the address alone count failures across
pairs and lock at ``lockout_global_threshold`` (many addresses against one
user, one address against many users). A success clears only its own
pair, so a good login from one address resets nothing an attacker built up
from another.

Counters live in the hub's database (table ``authhub_attempt``), or in
Redis when ``lockout_redis_url`` is set, so every server behind a load
balancer sees the same state. Keys are stored as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from authhub.errors import TooManyRequests
from authhub.outages import outage_as_503
from authhub.store import Base
from authhub.users import UserError, canonical_username

if TYPE_CHECKING:
    from authhub.hub import AuthHub
    from authhub.request import Request

_T = TypeVar("_T")


class AttemptRecord(Base):
    """Failed attempts against one key (a digest) within the current window."""

    __tablename__ = "authhub_attempt"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[float] = mapped_column(sa.Float)
    locked_until: Mapped[float] = mapped_column(sa.Float, default=0.0)


_CLEAN = "authhub.lockout.clean"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class Counters(Protocol):
    def locked_until(self, digests: list[str]) -> tuple[float, bool]:
        """The latest lock end among ``digests``, and whether the first one has a counter."""

    def add_failure(self, digest: str, now: float, window: float) -> int: ...

    def lock(self, digest: str, until: float) -> None: ...

    def clear(self, digests: list[str]) -> None: ...


class Lockout:
    """The hub's lockout policy over a counter store."""

    def __init__(self, hub: AuthHub) -> None:
        settings = hub.settings
        self.enabled: bool = settings["lockout_enabled"]
        self.threshold: int = settings["lockout_threshold"]
        self.global_threshold: int = settings["lockout_global_threshold"]
        self.backoff_after: int = settings["lockout_backoff_after"]
        self.window: float = float(settings["lockout_window"])
        self.duration: float = float(settings["lockout_duration"])
        redis_url = settings["lockout_redis_url"]
        self.counters: Counters = RedisCounters(redis_url) if redis_url else SQLCounters(hub)

    def check(self, request: Request, subject: str) -> None:
        """Refuse with 429 (``Retry-After``) while the subject, the address or the pair is locked."""
        if not self.enabled:
            return
        digests = [key_digest(key) for key in attempt_keys(request, subject)]
        until, pair_counted = self.counters.locked_until(digests)
        if not pair_counted:
            # Nothing to clear on success: spare succeeded() its write.
            request.state.setdefault(_CLEAN, set()).add(subject)
        now = time.time()
        if until > now:
            raise TooManyRequests(retry_after=max(1, math.ceil(until - now)))

    def failed(self, request: Request, subject: str) -> None:
        """Count a failed attempt against each key; lock those that crossed a line."""
        if not self.enabled:
            return
        now = time.time()
        pair, *wide = [key_digest(key) for key in attempt_keys(request, subject)]
        failures = self.counters.add_failure(pair, now, self.window)
        if failures >= self.threshold:
            self.counters.lock(pair, now + self.duration)
        elif failures >= self.backoff_after:
            self.counters.lock(pair, now + min(2.0 ** (failures - self.backoff_after), self.duration))
        for digest in wide:
            if self.counters.add_failure(digest, now, self.window) >= self.global_threshold:
                self.counters.lock(digest, now + self.duration)

    def succeeded(self, request: Request, subject: str) -> None:
        """Clear the pair (subject, address) only."""
        if self.enabled and subject not in request.state.get(_CLEAN, ()):
            self.counters.clear([key_digest(attempt_keys(request, subject)[0])])


def attempt_keys(request: Request, subject: str) -> list[str]:
    """The keys one attempt counts against: the pair first, then subject and address alone.

    A ``user:<name>`` subject counts under the name's canonical form, so
    'Alice' and a fullwidth 'ALICE' (which sign in as 'alice') are one subject.
    """
    if subject.startswith("user:"):
        try:
            subject = "user:" + canonical_username(subject[5:])
        except UserError:
            pass  # a name no user can have: counted as given
    address = request.client or "unknown"
    return [f"pair:{subject}|{address}", f"subject:{subject}", f"address:{address}"]


class SQLCounters:
    """Counters in ``authhub_attempt`` on the hub's database (atomic upserts)."""

    def __init__(self, hub: AuthHub) -> None:
        self._hub = hub
        # a mapped class's __table__ is typed as FromClause; this one is a Table (update/delete need it)
        table = self._table = cast(sa.Table, AttemptRecord.__table__)
        self._read = hub.store.prepare(
            sa.select(table.c.key, table.c.locked_until).where(
                table.c.key.in_([sa.bindparam("pair"), sa.bindparam("subject"), sa.bindparam("address")])
            )
        )

    def locked_until(self, digests: list[str]) -> tuple[float, bool]:
        pair, subject, address = digests
        rows = self._read.fetch_all(pair=pair, subject=subject, address=address)
        return max((row[1] for row in rows), default=0.0), any(row[0] == pair for row in rows)

    def add_failure(self, digest: str, now: float, window: float) -> int:
        table = self._table
        insert = _insert_for(self._hub.store.dialect)(table).values(
            key=digest, failures=1, window_started_at=now, locked_until=0.0
        )
        expired = table.c.window_started_at < now - window
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": sa.case((expired, 1), else_=table.c.failures + 1),
                "window_started_at": sa.case((expired, now), else_=table.c.window_started_at),
            },
        ).returning(table.c.failures)
        with self._hub.store.connect() as connection:
            return int(connection.execute(statement).scalar_one())

    def lock(self, digest: str, until: float) -> None:
        table = self._table
        later = sa.case((table.c.locked_until < until, until), else_=table.c.locked_until)
        with self._hub.store.connect() as connection:
            connection.execute(sa.update(table).where(table.c.key == digest).values(locked_until=later))

    def clear(self, digests: list[str]) -> None:
        with self._hub.store.connect() as connection:
            connection.execute(sa.delete(self._table).where(self._table.c.key.in_(digests)))


def _insert_for(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    # only SQLite and PostgreSQL are supported stores
    raise NotImplementedError(f"lockout counters need SQLite or PostgreSQL, not {dialect}")  # pragma: no cover


class RedisCounters:
    """Counters in Redis: ``<prefix><digest>:failures`` lives one window from its
    first failure; ``<prefix><digest>:lock`` holds the lock's end until then."""

    PREFIX = "authhub:attempt:"

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def _call(self, function: Callable[[], _T]) -> _T:
        with outage_as_503():
            return function()

    def locked_until(self, digests: list[str]) -> tuple[float, bool]:
        names = [f"{self.PREFIX}{digests[0]}:failures"] + [f"{self.PREFIX}{d}:lock" for d in digests]
        counted, *locks = self._call(lambda: self._redis.mget(names))
        return max((float(value) for value in locks if value is not None), default=0.0), counted is not None

    def add_failure(self, digest: str, now: float, window: float) -> int:
        name = f"{self.PREFIX}{digest}:failures"

        def add() -> int:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, max(1, math.ceil(window)), nx=True)
            failures, _ = pipe.execute()
            return int(failures)

        return self._call(add)

    def lock(self, digest: str, until: float) -> None:
        name = f"{self.PREFIX}{digest}:lock"

        def lock() -> None:
            current = self._redis.get(name)
            if current is None or float(current) < until:
                self._redis.set(name, repr(until), pxat=math.ceil(until * 1000))

        self._call(lock)

    def clear(self, digests: list[str]) -> None:
        names = [f"{self.PREFIX}{d}:{suffix}" for d in digests for suffix in ("failures", "lock")]
        if names:
            self._call(lambda: self._redis.delete(*names))
