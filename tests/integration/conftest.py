"""The whole system, seeded: every scheme installed, real users, tokens, sessions and OAuth tokens.

These tests run in the tox ``all`` environment, where every scheme is
installed; the ``core`` environment ignores this folder.

Hypothesis keeps its example database in ``hypothesis-examples/`` beside
this file (so a failure found on one machine replays on another) and runs
few examples per test: the whole folder must stay within a few minutes.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

import authhub
from authhub import AuthHub
from authhub.testing import hub_for_tests
from authhub_oauth.clients import issue_token
from authhub_oauth.models import OAuthClient
from authhub_session import SessionScheme, csrf
from authhub_token import create_token

settings.register_profile(
    "authhub-integration",
    max_examples=int(os.environ.get("AUTHHUB_TEST_EXAMPLES", "60")),
    deadline=None,
    database=DirectoryBasedExampleDatabase(str(Path(__file__).parent / "hypothesis-examples")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Every scheme, in the default chain order.
SCHEMES = ["token", "oauth", "basic", "session"]
#: No lockout: hundreds of generated bad credentials would lock the good ones out (lockout has its own tests).
NO_LOCKOUT = {"lockout_enabled": False}
OAUTH_CLIENT = "integration-client"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@attrs.frozen
class Person:
    """A seeded user and one working credential of each scheme."""

    username: str
    password: str = attrs.field(repr=False)
    token: str = attrs.field(repr=False)
    bearer: str = attrs.field(repr=False)
    session_id: str = attrs.field(repr=False)
    csrf: str = attrs.field(repr=False)

    def headers(self, scheme: str) -> dict[str, str]:
        """Request headers that authenticate this person with ``scheme`` (safe methods)."""
        if scheme == "basic":
            return {"Authorization": basic(self.username, self.password)}
        if scheme == "token":
            return {"Authorization": f"Token {self.token}"}
        if scheme == "oauth":
            return {"Authorization": f"Bearer {self.bearer}"}
        if scheme == "session":
            return {"Cookie": f"authhub_session={self.session_id}"}
        raise ValueError(scheme)


@attrs.define
class World:
    """A hub with every scheme and a few people in it."""

    hub: AuthHub
    people: dict[str, Person]
    #: People deactivated after their credentials were made: those credentials name nobody now.
    former: dict[str, Person] = attrs.Factory(dict)


def seed(hub: AuthHub, names: tuple[str, ...] = ("alice", "bob", "carol"), former: tuple[str, ...] = ("dave",)
         ) -> World:
    """Create ``names`` with a password, a token, an OAuth access token and a session each; the
    same for ``former``, who are then deactivated."""
    with hub.store.session() as session:
        if session.scalar(sa.select(OAuthClient.id).where(OAuthClient.client_id == OAUTH_CLIENT)) is None:
            session.add(OAuthClient(client_id=OAUTH_CLIENT, client_secret_digest=None, name="integration tests",
                                    grant_types="", redirect_uris="", scope="read write"))
    people = {}
    for name in names + former:
        password = f"{name}-password-\u00e9"
        user = hub.users.create(name, password)
        token = create_token(hub, name, name="integration").key
        bearer = issue_token(hub, OAUTH_CLIENT, user, ["read"])
        session_id, data = hub.find_scheme(SessionScheme).start(user)
        people[name] = Person(name, password, token, bearer, session_id, csrf.mask(data.csrf_secret))
    for name in former:
        hub.users.deactivate(name)
    return World(hub, {name: people[name] for name in names}, {name: people[name] for name in former})


def make_world(directory: Path, **settings: Any) -> World:
    options: dict[str, Any] = {"schemes": SCHEMES, **NO_LOCKOUT}
    options.update(settings)
    hub = hub_for_tests(directory, **options)
    hub.upgrade()
    return seed(hub)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One seeded hub on SQLite for a whole module (Hypothesis runs many examples against it)."""
    made = make_world(tmp_path_factory.mktemp("world"))
    yield made
    made.hub.close()


@pytest.fixture
def make_postgres_world(authhub_postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Seeded hubs on a fresh PostgreSQL database."""
    worlds: list[World] = []

    def make(**settings: Any) -> World:
        made = make_world(tmp_path, database_url=authhub_postgres_url, **settings)
        worlds.append(made)
        return made

    yield make
    for made in worlds:
        made.hub.close()


def wsgi_client(hub: AuthHub, address: str = "127.0.0.1") -> httpx.Client:
    """The reference application (what ``authhub serve`` runs) in process."""
    from authhub.server import make_app

    transport = httpx.WSGITransport(app=make_app(hub), remote_addr=address)
    return httpx.Client(transport=transport, base_url="http://127.0.0.1")


class Recorder:
    """An observer plugin: every outcome the hub's chain reports."""

    def __init__(self) -> None:
        self.outcomes: list[authhub.Outcome] = []

    @authhub.hookimpl
    def authentication_outcome(self, outcome: authhub.Outcome) -> None:
        self.outcomes.append(outcome)

    def kinds(self) -> list[str]:
        return [outcome.kind for outcome in self.outcomes]
