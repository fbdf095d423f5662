"""Fixtures: hubs with the session scheme on each store (SQLite, PostgreSQL, Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import authhub
from authhub_session import SessionScheme

PASSWORD = "correct horse battery staple"

STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]


@pytest.fixture
def redis_prefix(authhub_redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the Redis server; its keys are deleted afterwards."""
    import redis

    prefix = f"authhub-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(authhub_redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=STORES[:2])
def sql_store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


def _hub_factory(kind: str, request: pytest.FixtureRequest,
                 base: str = "authhub_make_hub") -> Callable[..., authhub.AuthHub]:
    make_hub = request.getfixturevalue(base)

    def make(**settings: Any) -> authhub.AuthHub:
        settings.setdefault("schemes", ["session"])
        section = dict(settings.pop("session", {}))
        if kind == "postgres":
            settings.setdefault("database_url", request.getfixturevalue("authhub_postgres_url"))
        elif kind == "redis":
            section.setdefault("redis_url", request.getfixturevalue("authhub_redis_url"))
            section.setdefault("redis_prefix", request.getfixturevalue("redis_prefix"))
        return make_hub(session=section, **settings)

    return make


@pytest.fixture
def make_hub(store_kind: str, request: pytest.FixtureRequest) -> Callable[..., authhub.AuthHub]:
    """``make_hub(session={...}, **settings)``: a hub whose chain is the session scheme, on ``store_kind``."""
    return _hub_factory(store_kind, request)


@pytest.fixture
def make_sql_hub(sql_store_kind: str, request: pytest.FixtureRequest) -> Callable[..., authhub.AuthHub]:
    """Like ``make_hub``, on SQLite and PostgreSQL only."""
    return _hub_factory(sql_store_kind, request)


@pytest.fixture
def make_account_hub(store_kind: str, request: pytest.FixtureRequest) -> Callable[..., authhub.AuthHub]:
    """Like ``make_hub``, with users in an application's own table (string UUID ids, ``hub.users.add``)."""
    return _hub_factory(store_kind, request, "authhub_account_hub")


@pytest.fixture
def make_redis_hub(request: pytest.FixtureRequest) -> Callable[..., authhub.AuthHub]:
    """Like ``make_hub``, on Redis only."""
    return _hub_factory("redis", request)


@pytest.fixture
def bank() -> Bank:
    return Bank()


@pytest.fixture
def hub(make_hub: Callable[..., authhub.AuthHub], bank: Bank) -> authhub.AuthHub:
    """A hub on ``store_kind`` whose chain is the session scheme, with the ``bank`` plugin's route."""
    return make_hub(plugins={"bank": bank})


@pytest.fixture
def alice(hub: authhub.AuthHub) -> authhub.User:
    return hub.users.create("alice", PASSWORD)


def get(hub: authhub.AuthHub, path: str = "/", *, method: str = "GET", cookie: str | None = None,
        headers: dict[str, str] | None = None, body: bytes | None = None,
        url_scheme: str = "http") -> authhub.Request:
    """A request bound to ``hub`` (host ``testserver``)."""
    lines = list((headers or {}).items())
    if cookie is not None:
        lines.append(("cookie", cookie))
    return authhub.Request(method, path, lines, hub=hub, host="testserver", url_scheme=url_scheme, body=body)


def sessions_of(hub: authhub.AuthHub) -> SessionScheme:
    """The hub's session scheme object."""
    return hub.find_scheme(SessionScheme)


def session_headers(hub: authhub.AuthHub, user: Any) -> dict[str, str]:
    """A logged-in session's ``Cookie`` and ``X-CSRF-Token`` headers (the scheme's ``auth_headers``)."""
    headers = hub.auth_headers("session", user)
    assert headers is not None
    return headers


class Bank:
    """A test plugin: ``POST /transfer`` moves money for the signed-in user and records it."""

    def __init__(self) -> None:
        self.transfers: list[tuple[str, str]] = []

    @authhub.hookimpl
    def serve_routes(self) -> list[authhub.Route]:
        return [authhub.Route("/transfer", self.transfer, ("POST",))]

    def transfer(self, request: authhub.Request) -> authhub.Response:
        if not request.identity.is_authenticated:
            raise authhub.NotAuthenticated()
        self.transfers.append((request.user.username, request.form().get("to", "")))
        return authhub.Response.json({"done": True, "scheme": request.auth_scheme})


class ApiKeyScheme:
    """A tiny second scheme: ``X-Api-Key: alice-key`` is alice."""

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> tuple[Any, Any] | None:
        values = request.headers.get_all("x-api-key")
        if not values:
            return None
        if values != ["alice-key"]:
            raise authhub.AuthenticationFailed("Unknown API key.")
        return hub.users.get_by_username("alice"), "alice-key"


@pytest.fixture
def live(hub: authhub.AuthHub, authhub_live_server: Callable[[authhub.AuthHub], str]) -> Iterator[Any]:
    """An httpx client (keeping cookies, not following redirects) on ``hub``'s reference server."""
    import httpx

    with httpx.Client(base_url=authhub_live_server(hub), follow_redirects=False, timeout=10) as client:
        yield client


def login_form_token(html: str) -> str:
    """The CSRF token of the login form in ``html``."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, html
    return match.group(1)


def sign_in(client: Any, username: str = "alice", password: str = PASSWORD, next_path: str = "/") -> Any:
    """Log in through the form as a browser would; returns the POST's response."""
    page = client.get("/login")
    assert page.status_code == 200
    return client.post("/login", data={"username": username, "password": password, "next": next_path,
                                       "csrf_token": login_form_token(page.text)})
