"""Floors: the least any implementation of the same work could cost in Python.

- ``sqlite3 join``: the token⋈user query on an open ``sqlite3`` connection,
  digest already computed: what a token lookup costs with no library at all.
- ``dict + sha256``: a SHA-256 of the key and a dict lookup: the least a
  cached token check can cost.
- ``pluggy firstresult x4``: a bare pluggy hook call over four
  implementations, the last one called answering.
- ``argon2 verify``: argon2-cffi verifying the benchmark user's password
  with authhub's default parameters.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pluggy
from fixtures import PASSWORD, real_hasher
from harness import Case

GROUP = "floor"

JOIN = (
    "SELECT t.id, t.user_id, u.username, u.is_active, t.name, t.scopes, t.expires_at, t.last_used_at "
    "FROM authhub_token AS t JOIN authhub_user AS u ON u.id = CAST(t.user_id AS INTEGER) "
    "WHERE t.digest = ? AND t.revoked = 0"
)


def sqlite_join(database: Path, key: str, name: str = "floor: sqlite3 token⋈user join") -> Case:
    connection = sqlite3.connect(database, check_same_thread=False)
    digest = hashlib.sha256(key.encode()).digest()
    assert connection.execute(JOIN, (digest,)).fetchone() is not None

    def call() -> Any:
        return connection.execute(JOIN, (digest,)).fetchone()

    return Case(name, GROUP, call, note="digest precomputed; one indexed query")


def dict_sha256(key: str) -> Case:
    table = {hashlib.sha256(key.encode()).digest(): ("user", "token")}
    raw = key.encode()
    sha256 = hashlib.sha256

    def call() -> Any:
        return table[sha256(raw).digest()]

    return Case("floor: dict lookup + sha256", GROUP, call)


class _Spec:
    @pluggy.HookspecMarker("bench")(firstresult=True)
    def authenticate(self, request: Any) -> Any:
        """One request in, ``(user, auth)`` or ``None`` out."""


def pluggy_manager(count: int) -> pluggy.PluginManager:
    """A bare plugin manager with ``count`` ``authenticate`` implementations; only the last called answers."""
    impl = pluggy.HookimplMarker("bench")
    manager = pluggy.PluginManager("bench")
    manager.add_hookspecs(_Spec)
    answer = ("user", None)

    class Answers:
        @impl
        def authenticate(self, request: Any) -> Any:
            return answer

    class Passes:
        @impl
        def authenticate(self, request: Any) -> Any:
            return None

    # pluggy calls the most recently registered implementation first.
    manager.register(Answers())
    for _ in range(count - 1):
        manager.register(Passes())
    return manager


def pluggy_firstresult(count: int) -> Case:
    manager = pluggy_manager(count)
    hook = manager.hook.authenticate
    request = object()
    assert hook(request=request) == ("user", None)
    return Case(f"floor: pluggy firstresult x{count}", GROUP, lambda: hook(request=request))


def argon2_verify() -> Case:
    hasher = real_hasher()
    stored = hasher.hash(PASSWORD)
    return Case("floor: argon2-cffi verify", GROUP, lambda: hasher.verify(stored, PASSWORD), iterations=2, repeats=5,
                waits=True, note="t=3, m=64 MiB, p=4 (authhub's defaults)")
