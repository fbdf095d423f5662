"""``TTLCache``: the one in-memory cache of verified answers that every scheme uses.

Bounded (the oldest entry goes first), each entry with a deadline (the
cache's ``ttl``, or sooner: a token's own expiry), and safe to share between
threads. It never holds a secret: schemes key it by a digest and store
the answer they verified.

Invalidation must never lose to a concurrent read: a scheme takes
:attr:`TTLCache.generation` *before* it reads the store and hands it to
:meth:`TTLCache.put`, which stores nothing if a :meth:`TTLCache.discard`
came in between. An answer read before a revocation is never cached
after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Values by key, at most ``size`` of them, each kept at most ``ttl`` seconds.

    :param ttl: seconds an entry lives at most.
    :param size: the most entries kept.
    """

    def __init__(self, ttl: float, size: int) -> None:
        if ttl <= 0 or size < 1:
            raise ValueError(f"a TTLCache needs ttl > 0 and size >= 1, not ttl={ttl}, size={size}")
        self.ttl = ttl
        self.size = size
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        #: Bumped by every :meth:`discard` and :meth:`clear`.
        self.generation = 0

    def get(self, key: K, now: float | None = None) -> V | None:
        """The value for ``key`` while it lives, else ``None``. ``now``: ``time.time()``, if the caller has it."""
        entry = self._entries.get(key)  # a lone dict read needs no lock
        if entry is None:
            return None
        if entry[0] <= (time.time() if now is None else now):
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V, generation: int, *, now: float | None = None,
            expires_at: float | None = None) -> None:
        """Keep ``value`` unless an invalidation came after ``generation`` was read.

        :param generation: :attr:`generation` as read before the value was.
        :param expires_at: a ``time.time()`` after which the value is wrong anyway.
        """
        deadline = (time.time() if now is None else now) + self.ttl
        if expires_at is not None and expires_at < deadline:
            deadline = expires_at
        with self._lock:
            if generation != self.generation:
                return
            if key not in self._entries and len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (deadline, value)

    def discard(self, matches: Callable[[V], bool]) -> int:
        """Drop every entry whose value ``matches``; how many went."""
        with self._lock:
            self.generation += 1
            gone = [key for key, (_, value) in self._entries.items() if matches(value)]
            for key in gone:
                del self._entries[key]
            return len(gone)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        # Keys are digests of credentials: show only the size.
        return f"<TTLCache {len(self._entries)}/{self.size} ttl={self.ttl}>"
