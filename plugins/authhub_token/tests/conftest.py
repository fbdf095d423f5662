"""Fixtures for the token scheme's tests: a hub with Token alone, a user, SQL counting, and waiting for the channel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import authhub
import authhub_token

#: Seconds another hub may take to refuse what one hub cut off: generous, so CI never flakes
#: (the benchmarks report the real figures).
BOUND = 2.0
#: The invalidation channel's listener thread (:mod:`authhub.changes`).
LISTENER = "authhub-changes"


def request(hub: authhub.AuthHub, authorization: str | None = None) -> authhub.Request:
    headers = [("Authorization", authorization)] if authorization is not None else []
    return authhub.Request("GET", "/whoami", headers, hub=hub)


def scheme_of(hub: authhub.AuthHub) -> authhub_token.TokenScheme:
    """The hub's token scheme object (its read, its cache, its settings as values)."""
    return hub.find_scheme(authhub_token.TokenScheme)


def refusal(hub: authhub.AuthHub, authorization: str) -> authhub.AuthhubError:
    """The error the hub's chain raises for ``authorization`` (fails the test if it does not raise)."""
    with pytest.raises(authhub.AuthhubError) as caught:
        hub.authenticate(request(hub, authorization))
    return caught.value


def listening(*hubs: authhub.AuthHub) -> None:
    """Wait until each hub's invalidation channel is current: only then does its cache answer."""
    for hub in hubs:
        assert hub.changes.wait_until_current(BOUND), "the invalidation channel did not catch up"


def refused_within(hub: authhub.AuthHub, authorization: str, bound: float = BOUND) -> authhub.AuthhubError:
    """Ask ``hub`` until it refuses ``authorization``; the refusal (fails the test after ``bound`` seconds)."""
    deadline = time.monotonic() + bound
    while True:
        try:
            hub.authenticate(request(hub, authorization))
        except authhub.AuthhubError as error:
            return error
        assert time.monotonic() < deadline, f"still accepted {bound} s after the change"
        time.sleep(0.005)


class Statements:
    """Every SQL statement the hub's database runs, as the SQLite driver sees it.

    A connect listener installs SQLite's trace callback, so statements that
    bypass SQLAlchemy's execution layer (the prepared reads) are counted too.
    The invalidation channel's listener thread watches the database on its
    own schedule; its statements are not the request path's and are left out.
    """

    def __init__(self, hub: authhub.AuthHub) -> None:
        self.seen: list[str] = []
        engine = hub.store.engine
        sa.event.listen(engine, "connect", lambda connection, _record: connection.set_trace_callback(self._record))
        # Connections opened before the listener would go untraced: the pool's and the prepared reads'.
        engine.dispose()
        hub.store.kept.close()

    def _record(self, statement: str) -> None:
        if threading.current_thread().name != LISTENER:
            self.seen.append(statement)

    def clear(self) -> None:
        self.seen.clear()

    def selects(self) -> list[str]:
        return [s for s in self.seen if s.lstrip().upper().startswith("SELECT")]


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
])
def shared_store(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for hubs that share a store and its invalidation channel (another process is another hub).

    ``sqlite``: the test's SQLite file, watched through ``PRAGMA data_version``;
    ``postgres``: a fresh PostgreSQL database (``LISTEN``/``NOTIFY``);
    ``redis``: the SQLite file with the channel on Redis (``changes_redis_url``).
    """
    if request.param == "postgres":
        return {"database_url": request.getfixturevalue("authhub_postgres_url")}
    if request.param == "redis":
        return {"changes_redis_url": request.getfixturevalue("authhub_redis_url")}
    return {}


@pytest.fixture
def make_hub(authhub_make_hub: Callable[..., authhub.AuthHub]) -> Callable[..., authhub.AuthHub]:
    """Hubs whose chain is Token alone unless ``schemes`` says otherwise."""

    def make(**settings: Any) -> authhub.AuthHub:
        settings.setdefault("schemes", ["token"])
        return authhub_make_hub(**settings)

    return make


@pytest.fixture
def hub(make_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    return make_hub()


@pytest.fixture
def alice(hub: authhub.AuthHub) -> authhub.User:
    return hub.users.create("alice", "alice's password")


@pytest.fixture
def statements(hub: authhub.AuthHub) -> Iterator[Statements]:
    yield Statements(hub)
