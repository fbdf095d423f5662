"""Fixtures for the token scheme's tests: a hub with Token alone, a user, and SQL counting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import authhub
import authhub_token


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


class Statements:
    """Every SQL statement the hub's database runs, as the SQLite driver sees it.

    A connect listener installs SQLite's trace callback, so statements that
    bypass SQLAlchemy's execution layer (the prepared reads) are counted too.
    """

    def __init__(self, hub: authhub.AuthHub) -> None:
        self.seen: list[str] = []
        engine = hub.store.engine
        sa.event.listen(engine, "connect", lambda connection, _record: connection.set_trace_callback(self.seen.append))
        # Connections opened before the listener would go untraced: the pool's and the prepared reads'.
        engine.dispose()
        hub.store.kept.close()

    def clear(self) -> None:
        self.seen.clear()

    def selects(self) -> list[str]:
        """The reads the request path ran (the invalidation channel's listener reads its log on its own)."""
        return [s for s in self.seen if s.lstrip().upper().startswith("SELECT") and "authhub_change" not in s
                and "data_version" not in s]


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
