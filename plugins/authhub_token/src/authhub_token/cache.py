"""The optional in-process cache of verified tokens (``cache_ttl`` > 0).

Keyed by digest, bounded (oldest entry out first), and an entry never
outlives its token's ``expires_at``. Revocation and user changes in this
process drop entries at once; other processes keep theirs for at most
``cache_ttl`` seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Answer = tuple[Any, Any]


class TokenCache:
    """Verified ``(user, TokenInfo)`` answers by digest, each with a deadline (``time.time()`` seconds)."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[bytes, tuple[float, Answer]] = {}
        self._lock = threading.Lock()
        #: Bumped by every invalidation, so an answer read from the database
        #: before a revocation is never stored after it.
        self.generation = 0

    def get(self, digest: bytes, now: float) -> Answer | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[0] <= now:
            self._entries.pop(digest, None)
            return None
        return entry[1]

    def put(self, digest: bytes, answer: Answer, now: float, expires: float | None, generation: int) -> None:
        deadline = now + self.ttl
        if expires is not None and expires < deadline:
            deadline = expires
        with self._lock:
            if generation != self.generation:
                return
            if digest not in self._entries and len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[digest] = (deadline, answer)

    def discard(self, matches: Callable[[Answer], bool]) -> None:
        """Drop every entry whose answer ``matches``."""
        with self._lock:
            self.generation += 1
            for digest in [digest for digest, (_, answer) in self._entries.items() if matches(answer)]:
                del self._entries[digest]

    def __len__(self) -> int:
        return len(self._entries)
