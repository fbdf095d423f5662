"""Used DPoP proofs, remembered so each is accepted once (RFC 9449 §11.1), across every process.

A proof is remembered by a digest of its key's thumbprint and its ``jti``
(never the proof) until it is stale anyway. Two places, both shared by
every process on the store:

* :class:`StoreReplayCache`: the table ``oauth_dpop_proof``, whose primary
  key makes the second insert of a digest fail; rows past their time are
  deleted now and then by whichever process records a proof.
* :class:`RedisReplayCache`: ``SET <key> 1 NX EX <seconds>`` in Redis
  (``dpop_replay_redis_url``), which forgets on its own.

An unreachable database or Redis refuses the request (503): a proof that
cannot be recorded is never accepted.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

import authhub
from authhub import Base, Store


class DPoPProofUse(Base):
    """A used DPoP proof: the digest of ``<jkt>:<jti>`` and when it may be forgotten."""

    __tablename__ = "oauth_dpop_proof"

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)


class ReplayCache(Protocol):
    def first_use(self, key: str, stale_at: float) -> bool:
        """Record ``key`` until ``stale_at`` (a ``time.time()``); whether it was new."""

    def close(self) -> None: ...


class StoreReplayCache:
    """Used proofs in the hub's database (``oauth_dpop_proof``).

    :param purge_every: seconds between two deletions of stale rows by this process.
    """

    def __init__(self, store: Store, *, purge_every: float) -> None:
        self.store = store
        self.purge_every = purge_every
        self._purged_at = time.monotonic()
        self._purge_lock = threading.Lock()

    def first_use(self, key: str, stale_at: float) -> bool:
        expires_at = dt.datetime.fromtimestamp(stale_at, dt.timezone.utc)
        try:
            with self.store.connect() as connection:
                connection.execute(sa.insert(DPoPProofUse).values(digest=key, expires_at=expires_at))
        except sa.exc.IntegrityError:
            return False
        self._purge_now_and_then()
        return True

    def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._purged_at < self.purge_every or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._purged_at = time.monotonic()
            self.purge()
        finally:
            self._purge_lock.release()

    def purge(self) -> int:
        """Delete the rows of proofs that are stale; how many went."""
        now = dt.datetime.now(dt.timezone.utc)
        with self.store.connect() as connection:
            result = connection.execute(sa.delete(DPoPProofUse).where(DPoPProofUse.expires_at < now))
        return int(result.rowcount)

    def close(self) -> None:
        """The store is the hub's: nothing of its own to close."""


class RedisReplayCache:
    """Used proofs in Redis: one key per proof that expires with it.

    :param url: a ``redis://``, ``rediss://`` or ``unix://`` URL.
    :param prefix: the start of every key this cache writes.
    """

    def __init__(self, url: str, *, prefix: str = "authhub:oauth:dpop:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3, health_check_interval=30)
        self.prefix = prefix

    def first_use(self, key: str, stale_at: float) -> bool:
        seconds = max(1, math.ceil(stale_at - time.time()))
        with authhub.outage_as_503():
            return bool(self._redis.set(self.prefix + key, b"1", nx=True, ex=seconds))

    def close(self) -> None:
        self._redis.close()
