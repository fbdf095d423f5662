"""The invalidation channel: a change that must cut access reaches every process sharing the store.

Schemes cache verified answers (never secrets). Every change that makes a
cached answer wrong — a revocation, a logout, a password change, a
deactivation — is announced once with :meth:`authhub.AuthHub.invalidate`;
this module carries it to every other hub on the same store, in this
process or any other, which drop their entries through the
``invalidated`` hook.

Each announcement is a row of the append-only table ``authhub_change``
(increasing ids): the log is durable, so a process that lost the channel
for a while catches up by reading what it missed. How the others learn
that there is something to read depends on the store:

- PostgreSQL: ``NOTIFY authhub_changes`` in the same transaction; each
  process ``LISTEN``\\ s on a connection of its own.
- SQLite: no server to push anything; a thread watches
  ``PRAGMA data_version``, which moves when another connection commits,
  every ``changes_poll_interval`` seconds (10 ms by default: a few
  microseconds each time).
- Redis, when ``changes_redis_url`` is set: the log is a Redis stream
  (``XADD``/``XREAD BLOCK``), for applications whose processes share Redis
  rather than one database.

Fail closed: :attr:`Changes.current` is true only while the listener has
read the log up to date and has shown a sign of life within
:data:`STALE_AFTER` seconds. A scheme uses its cache only while it is
true; otherwise it asks the store, as it would without a cache. When the
listener comes back after a gap it tells every plugin to drop everything
(kind ``"*"``): an announcement made during the gap may never have been
written. It then replays what the log holds.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from authhub.outages import outage_as_503
from authhub.store import Base, Store

log = logging.getLogger("authhub.changes")

#: Seconds without a sign of life from the listener after which caches are bypassed.
STALE_AFTER = 3.0
#: The longest the listener waits for news before it shows a sign of life anyway.
HEARTBEAT = 1.0
#: Log rows older than this many seconds are deleted (a process away longer drops all its caches).
RETENTION = 3600.0
#: The kind that tells plugins to drop every cached answer.
EVERYTHING = "*"
CHANNEL = "authhub_changes"
REDIS_STREAM = "authhub:changes"

Deliver = Callable[[str, str], None]
Row = tuple[Any, str, str]


class ChangeRecord(Base):
    """One announcement: what changed (``kind``) and which one (``key``)."""

    __tablename__ = "authhub_change"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[float] = mapped_column(sa.Float)


class Transport(Protocol):
    """How announcements are written and read back, for one kind of store."""

    def publish(self, kind: str, key: str) -> None: ...

    def open(self) -> Any:
        """A listening connection (raises when the store is unreachable)."""

    def latest(self, connection: Any) -> Any:
        """The id of the newest announcement (``None`` when there is none)."""

    def oldest(self, connection: Any) -> Any:
        """The id of the oldest announcement still kept (``None`` when there is none)."""

    def wait(self, connection: Any, timeout: float, stop: threading.Event) -> None:
        """Return when there may be news, after ``timeout`` seconds, or once ``stop`` is set."""

    def read_after(self, connection: Any, after: Any) -> list[Row]: ...

    def close(self, connection: Any) -> None: ...


class DatabaseLog:
    """The log in ``authhub_change``; PostgreSQL pushes with NOTIFY, SQLite is watched by ``data_version``."""

    def __init__(self, store: Store, poll_interval: float) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.postgres = store.dialect == "postgresql"
        table = ChangeRecord.__table__
        assert isinstance(table, sa.Table)
        self.table = table
        read = (sa.select(table.c.id, table.c.kind, table.c.key)
                .where(table.c.id > sa.bindparam("after")).order_by(table.c.id).compile(dialect=store.engine.dialect))
        self._read_sql = str(read)
        self._read_positional = read.positional
        self._published = 0
        self._seen_version: Any = None

    def publish(self, kind: str, key: str) -> None:
        now = time.time()
        with self.store.connect() as connection:
            connection.execute(sa.insert(self.table).values(kind=kind, key=key, created_at=now))
            if self.postgres:
                connection.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
            self._published += 1
            if self._published % 1000 == 0:
                connection.execute(sa.delete(self.table).where(self.table.c.created_at < now - RETENTION))

    def open(self) -> Any:
        pooled = self.store.engine.raw_connection()
        # the driver's own connection (psycopg or sqlite3): autocommit, LISTEN and isolation_level are theirs
        connection: Any = pooled.dbapi_connection
        pooled.detach()
        if self.postgres:
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
        else:
            connection.isolation_level = None  # autocommit: every read sees the latest commit
            # Taken before the listener's first read of the log: a commit after it moves the version.
            self._seen_version = self._scalar(connection, "PRAGMA data_version")
        return connection

    def _scalar(self, connection: Any, sql: str) -> Any:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return row[0] if row else None

    def latest(self, connection: Any) -> Any:
        return self._scalar(connection, "SELECT max(id) FROM authhub_change")

    def oldest(self, connection: Any) -> Any:
        return self._scalar(connection, "SELECT min(id) FROM authhub_change")

    def wait(self, connection: Any, timeout: float, stop: threading.Event) -> None:
        if self.postgres:
            for _ in connection.notifies(timeout=timeout, stop_after=1):
                pass
            return
        # Compared with the version seen at the last return, not at this call: a commit made
        # while the listener was reading the log must wake it now, not a heartbeat later.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            version = self._scalar(connection, "PRAGMA data_version")
            if version != self._seen_version:
                self._seen_version = version
                return
            # A plain sleep: on the benchmark machine a timed Event.wait costs 88 µs of CPU per
            # wake-up against 59 µs (100 wake-ups a second); close() waits at most one interval more.
            time.sleep(self.poll_interval)
            if stop.is_set():
                return

    def read_after(self, connection: Any, after: Any) -> list[Row]:
        cursor = connection.cursor()
        try:
            cursor.execute(self._read_sql, (after,) if self._read_positional else {"after": after})
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [(row[0], row[1], row[2]) for row in rows]

    def close(self, connection: Any) -> None:
        try:
            connection.close()
        except Exception as exc:  # the server may be gone already
            log.debug("closing the listening connection failed: %s", type(exc).__name__)


class RedisLog:
    """The log as a Redis stream: ``XADD`` to announce, ``XREAD BLOCK`` to listen."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=HEARTBEAT + 2, socket_connect_timeout=2)

    def publish(self, kind: str, key: str) -> None:
        with outage_as_503():
            self.client.xadd(REDIS_STREAM, {"kind": kind, "key": key}, maxlen=100_000, approximate=True)

    def open(self) -> Any:
        self.client.ping()
        return self.client

    def latest(self, connection: Any) -> Any:
        entries = connection.xrevrange(REDIS_STREAM, count=1)
        return entries[0][0].decode() if entries else "0-0"

    def oldest(self, connection: Any) -> Any:
        entries = connection.xrange(REDIS_STREAM, count=1)
        return entries[0][0].decode() if entries else None

    def wait(self, connection: Any, timeout: float, stop: threading.Event) -> None:
        """Nothing: :meth:`read_after` blocks itself."""

    def read_after(self, connection: Any, after: Any) -> list[Row]:
        answer = connection.xread({REDIS_STREAM: after}, block=int(HEARTBEAT * 1000))
        rows: list[Row] = []
        for _, entries in answer or ():
            for entry_id, fields in entries:
                rows.append((entry_id.decode(), fields[b"kind"].decode(), fields[b"key"].decode()))
        return rows

    def close(self, connection: Any) -> None:
        """The client is shared; closed with the log."""


def _redis_id(value: Any) -> tuple[int, int]:
    millis, _, sequence = str(value).partition("-")
    return int(millis), int(sequence or 0)


class Changes:
    """One hub's end of the invalidation channel.

    :param transport: where announcements go and come from.
    :param deliver: called with ``(kind, key)`` for each announcement heard;
        held weakly when it is a bound method, so the listener never keeps
        a hub alive.
    """

    def __init__(self, transport: DatabaseLog | RedisLog, deliver: Deliver) -> None:
        self.transport = transport
        self._deliver: Callable[[], Deliver | None]
        if hasattr(deliver, "__self__"):
            self._deliver = weakref.WeakMethod(deliver)
        else:
            self._deliver = lambda: deliver
        #: ``time.monotonic()`` until which caches may be trusted: pushed forward by
        #: every round of the listener, 0 while it is catching up or down.
        self._trusted_until = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> bool:
        """Whether caches may be used: the listener is up to date and alive (starts it on first use)."""
        if time.monotonic() < self._trusted_until:
            return True
        if self._thread is None:
            self._start()
        return False

    def wait_until_current(self, timeout: float = 5.0) -> bool:
        """Start listening and wait until :attr:`current` (for tests and start-up); whether it became so."""
        deadline = time.monotonic() + timeout
        while not self.current:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def announce(self, kind: str, key: str) -> None:
        """Write the announcement to the log, for every other hub on the store."""
        self.transport.publish(kind, key)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._listen, name="authhub-changes", daemon=True)
                self._thread.start()

    def _listen(self) -> None:
        last: Any = None
        failures = 0
        while not self._stop.is_set():
            connection = None
            try:
                connection = self.transport.open()
                if last is None:
                    last = self.transport.latest(connection) or 0
                else:
                    # An announcement made while the channel was down may never have been written
                    # (its maker was told StoreUnavailable, the change itself stands): no replay
                    # brings it back, so every cache starts again from the store.
                    self._tell(EVERYTHING, EVERYTHING)
                    self._catch_up(connection, last)
                    last = self._deliver_rows(self.transport.read_after(connection, last), last)
                self._trusted_until, failures = time.monotonic() + STALE_AFTER, 0
                while not self._stop.is_set():
                    self.transport.wait(connection, HEARTBEAT, self._stop)
                    last = self._deliver_rows(self.transport.read_after(connection, last), last)
                    if self._deliver() is None:  # the hub is gone
                        self._stop.set()
                    elif not self._stop.is_set():  # close() may have come meanwhile
                        self._trusted_until = time.monotonic() + STALE_AFTER
            except Exception as exc:  # any failure of the store: bypass caches until caught up again
                self._trusted_until = 0.0
                if failures == 0:
                    log.warning("invalidation channel lost (%s); caches bypassed until it is back",
                                type(exc).__name__)
                failures += 1
                self._stop.wait(min(0.05 * 2 ** min(failures, 5), 1.0))
            finally:
                if connection is not None:
                    self.transport.close(connection)

    def _catch_up(self, connection: Any, last: Any) -> None:
        """After a gap: when the log no longer holds everything since ``last``, drop every cache."""
        oldest = self.transport.oldest(connection)
        if oldest is None:
            return
        newer = _redis_id(oldest) > _redis_id(last) if isinstance(self.transport, RedisLog) else oldest > last + 1
        if newer:
            self._tell(EVERYTHING, EVERYTHING)

    def _deliver_rows(self, rows: list[Row], last: Any) -> Any:
        for row_id, kind, key in rows:
            self._tell(kind, key)
            last = row_id
        return last

    def _tell(self, kind: str, key: str) -> None:
        deliver = self._deliver()
        if deliver is not None:
            deliver(kind, key)

    def close(self) -> None:
        """Stop listening; the thread closes its connection within a heartbeat."""
        self._stop.set()
        self._trusted_until = 0.0
