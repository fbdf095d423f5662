"""The verified-credentials cache: argon2 once, then a keyed hash for a while.

An entry is stored only after the user store accepted the credentials, and
is found again by an HMAC of the Basic token under a key made at random
for this process: the password itself is never kept, and the HMAC is of no
use outside the process. Entries live ``ttl`` seconds; the cache holds at
most ``size`` of them, dropping the oldest first (they are the nearest to
expiring anyway). :meth:`CredentialCache.forget` drops a user's entries
at once when their password or status changes in this process; other
processes see the change when their entries expire.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from typing import Any, NamedTuple


class _Entry(NamedTuple):
    expires: float
    user: Any
    usernames: frozenset[str]


class CredentialCache:
    """Users whose Basic credentials were verified recently, by keyed hash of the credentials.

    :param ttl: how long an entry is good for, in seconds (> 0).
    :param size: the most entries kept (>= 1).
    """

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, _Entry] = {}
        self._lock = threading.Lock()
        # Bumped by forget(): a verification that started before a password
        # change must not store what it verified once the change is known.
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<CredentialCache ttl={self.ttl} size={self.size} entries={len(self._entries)}>"

    def digest(self, token: str) -> bytes:
        """The cache key of a Basic token (an ASCII string)."""
        return hmac.digest(self._key, token.encode("ascii"), "sha256")

    @property
    def generation(self) -> int:
        """Pass this to :meth:`put` to make it a no-op if :meth:`forget` ran since."""
        return self._generation

    def get(self, key: bytes) -> Any | None:
        """The user cached under ``key``, ``None`` when absent or expired."""
        # A dict lookup is safe here although the key derives from a secret:
        # without the process's random HMAC key nobody can aim at an entry.
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry.user

    def put(self, key: bytes, user: Any, usernames: frozenset[str], generation: int) -> None:
        """Remember ``user`` under ``key`` for ``ttl`` seconds, unless :meth:`forget` ran since ``generation``."""
        with self._lock:
            if generation != self._generation:
                return
            entries = self._entries
            entries.pop(key, None)  # re-inserted at the end, keeping insertion order = expiry order
            if len(entries) >= self.size:
                self._make_room()
            entries[key] = _Entry(time.monotonic() + self.ttl, user, usernames)

    def forget(self, username: str) -> None:
        """Drop every entry of ``username`` now."""
        with self._lock:
            self._generation += 1
            stale = [key for key, entry in self._entries.items() if username in entry.usernames]
            for key in stale:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _make_room(self) -> None:
        # Every entry lives the same ttl, so insertion order is expiry order:
        # the expired entries are at the front, and the next to expire after them.
        now = time.monotonic()
        entries = self._entries
        expired = []
        for key, entry in entries.items():
            if entry.expires > now:
                break
            expired.append(key)
        for key in expired:
            del entries[key]
        while len(entries) >= self.size:
            del entries[next(iter(entries))]
