"""Faults: the store goes away and comes back. Every case fails closed and recovers by itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import authhub
from authhub import AuthHub, Request
from authhub.server import make_app
from authhub.testing import FAST_HASHING
from authhub.testservers import PostgresServer, RedisServer

from .conftest import basic


class PasswordScheme:
    """A minimal Basic-like scheme over the core's user store (the real one lives in authhub-basic)."""

    @authhub.hookimpl
    def authenticate(self, request: Request, hub: AuthHub) -> Any:
        header = request.authorization
        if not header or not header.startswith("Basic "):
            return None
        import base64

        username, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return hub.users.check_password(username, password), None

    @authhub.hookimpl
    def challenge(self) -> str:
        return 'Basic realm="api"'


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.destroy()


def test_postgres_down_then_back(tmp_path, postgres):
    hub = AuthHub(
        directory=tmp_path,
        environ={},
        load_entry_points=False,
        plugins={"pw": PasswordScheme()},
        schemes=["pw"],
        database_url=postgres.url,
        **FAST_HASHING,
    )
    hub.upgrade()
    hub.users.create("alice", "pw")
    client = httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://t")
    good = {"Authorization": basic("alice", "pw")}
    assert client.get("/whoami", headers=good).json()["user"] == "alice"

    postgres.stop()
    down = client.get("/whoami", headers=good)
    assert down.status_code == 503
    assert down.json() == {"detail": "Authentication store unavailable."}
    # Anonymous requests touch no store and still work; protected ones are not let through.
    assert client.get("/whoami").json()["authenticated"] is False
    assert client.get("/protected", headers=good).status_code == 503

    postgres.start()
    assert client.get("/whoami", headers=good).json()["user"] == "alice"
    assert client.get("/whoami", headers={"Authorization": basic("alice", "nope")}).status_code == 401


def test_sqlite_file_that_cannot_be_opened(tmp_path):
    hub = AuthHub(
        directory=tmp_path,
        environ={},
        load_entry_points=False,
        plugins={"pw": PasswordScheme()},
        schemes=["pw"],
        database_url=f"sqlite:///{tmp_path}/missing-dir/db.sqlite",
    )
    client = httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://t")
    response = client.get("/whoami", headers={"Authorization": basic("alice", "pw")})
    assert response.status_code == 503


def test_redis_lockout_store_down_then_back(tmp_path):
    server = RedisServer()
    server.start()
    try:
        hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, lockout_redis_url=server.url)
        request = Request("GET", "/", client="203.0.113.1")
        hub.lockout.check(request, "user:x")
        server.stop()
        with pytest.raises(authhub.StoreUnavailable):
            hub.lockout.check(request, "user:x")
        server.start()
        hub.lockout.check(request, "user:x")
    finally:
        server.stop()


def test_pool_connections_are_returned(tmp_path, postgres):
    hub = AuthHub(
        directory=tmp_path,
        environ={},
        load_entry_points=False,
        plugins={"pw": PasswordScheme()},
        schemes=["pw"],
        database_url=postgres.url,
        **FAST_HASHING,
    )
    hub.upgrade()
    hub.users.create("bob", "pw")
    for password in ["pw", "wrong"] * 50:
        try:
            hub.authenticate(Request("GET", "/", [("Authorization", basic("bob", password))]))
        except authhub.AuthenticationFailed:
            pass
    assert hub.store.engine.pool.checkedout() == 0
