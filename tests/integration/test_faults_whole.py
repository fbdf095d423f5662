"""Faults in the whole system: a real PostgreSQL or Redis process stopped under every scheme, and a
plugin that breaks. Every case fails closed (503/500, never anonymous, never someone else) and
recovers by itself when the server is back.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import random
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import authhub
from authhub.asgi import AuthMiddleware
from authhub.testing import hub_for_tests
from authhub.testservers import PostgresServer, RedisServer
from authhub_session import SessionScheme
from authhub_token.keys import RANDOM_LENGTH

from .conftest import SCHEMES, World, basic, make_world, seed, wsgi_client
from .strategies import well_formed_key

UNAVAILABLE = {"detail": "Authentication store unavailable."}
INTERNAL = {"detail": "Authentication failed because of an internal error."}


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def pg_world(postgres: PostgresServer, tmp_path: Path) -> Iterator[World]:
    """Every scheme on the private PostgreSQL, lockout on (it reads and writes the same database)."""
    import sqlalchemy as sa

    name = f"faults_{os.getpid()}_{random.randrange(1 << 30)}"
    admin = sa.create_engine(postgres.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    world = make_world(tmp_path, database_url=postgres.url.rsplit("/", 1)[0] + f"/{name}", lockout_enabled=True)
    yield world
    world.hub.close()


def whoami(client: httpx.Client, headers: dict[str, str], path: str = "/whoami") -> tuple[int, Any]:
    response = client.get(path, headers=headers)
    return response.status_code, response.json()


def test_database_down_between_requests_under_every_scheme(pg_world: World, postgres: PostgresServer) -> None:
    client = wsgi_client(pg_world.hub)
    alice = pg_world.people["alice"]
    for scheme in SCHEMES:
        assert whoami(client, alice.headers(scheme)) == (200, {"authenticated": True, "user": "alice",
                                                               "scheme": scheme})

    postgres.stop()
    try:
        for scheme in SCHEMES:
            for path in ("/whoami", "/protected", "/auth/verify"):
                assert whoami(client, alice.headers(scheme), path) == (503, UNAVAILABLE), (scheme, path)
        # Wrong credentials cannot be told from right ones without the store: 503 as well ...
        assert whoami(client, {"Authorization": f"Token {well_formed_key('x' * RANDOM_LENGTH)}"}) == (503, UNAVAILABLE)
        assert whoami(client, {"Authorization": basic("bob", "wrong")}) == (503, UNAVAILABLE)
        # ... except a key whose checksum is wrong, which is refused without asking the store.
        assert whoami(client, {"Authorization": f"Token {alice.token[:-8]}00000000"})[0] == 401
    finally:
        postgres.start()

    # Back by itself, at the very first request: no restart of the application.
    for scheme in SCHEMES:
        assert whoami(client, alice.headers(scheme)) == (200, {"authenticated": True, "user": "alice",
                                                               "scheme": scheme}), scheme
    assert client.get("/whoami", headers={"Authorization": f"Token {pg_world.people['bob'].token[:-1]}x"}
                      ).status_code == 401


def test_database_down_during_a_burst(pg_world: World, postgres: PostgresServer) -> None:
    """Eight threads authenticate all along while the server stops and starts: 200 as the right user, or 503."""
    client = wsgi_client(pg_world.hub)
    people = list(pg_world.people.values())
    answers: list[tuple[str, str, int, Any]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def hammer(seed: int) -> None:
        chooser = random.Random(seed)
        with wsgi_client(pg_world.hub) as own:
            while not stop.is_set():
                person, scheme = chooser.choice(people), chooser.choice(SCHEMES)
                response = own.get("/protected", headers=person.headers(scheme))
                with lock:
                    answers.append((person.username, scheme, response.status_code, response.json()))

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        postgres.stop()
        time.sleep(1.0)
        postgres.start()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    statuses = {status for _, _, status, _ in answers}
    assert statuses <= {200, 503}, statuses
    assert 503 in statuses and 200 in statuses
    for username, scheme, status, body in answers:
        if status == 200:
            assert body == {"authenticated": True, "user": username, "scheme": scheme}
        else:
            assert body == UNAVAILABLE
    # Recovered: every scheme of every person works again.
    for person in people:
        for scheme in SCHEMES:
            assert whoami(client, person.headers(scheme), "/protected")[1]["user"] == person.username


# -- Redis behind the session store ------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


def test_redis_down_for_the_session_store(tmp_path: Path, redis_server: RedisServer) -> None:
    world = make_world(tmp_path, session={"redis_url": redis_server.url})
    client = wsgi_client(world.hub)
    alice = world.people["alice"]
    assert whoami(client, alice.headers("session"))[1]["user"] == "alice"

    redis_server.stop()
    assert whoami(client, alice.headers("session")) == (503, UNAVAILABLE)
    assert whoami(client, alice.headers("session"), "/protected") == (503, UNAVAILABLE)
    # Logging in cannot start a session: refused, no cookie handed out.
    page = client.get("/login")
    login = client.post("/login", data={"csrf_token": _hidden(page.text), "username": "alice",
                                        "password": alice.password})
    assert login.status_code == 503
    assert "authhub_session=" not in login.headers.get("set-cookie", "").replace("authhub_session_login=", "")
    # The other schemes do not need Redis.
    assert whoami(client, alice.headers("token"))[1]["user"] == "alice"

    redis_server.start()
    # This Redis keeps nothing on disk: the old session is gone, so it is anonymous (never someone else) ...
    assert whoami(client, alice.headers("session"))[1] == {"authenticated": False, "user": None, "scheme": None}
    # ... and new sessions work at once.
    session_id, _ = world.hub.find_scheme(SessionScheme).start(world.hub.users.get_by_username("bob"))
    assert whoami(client, {"Cookie": f"authhub_session={session_id}"})[1]["user"] == "bob"
    world.hub.close()


def test_redis_hanging_for_the_session_store(tmp_path: Path, redis_server: RedisServer) -> None:
    """A Redis that stops answering (SIGSTOP) times out into 503; the same session works when it resumes."""
    world = make_world(tmp_path, session={"redis_url": redis_server.url})
    client = wsgi_client(world.hub)
    alice = world.people["alice"]
    assert whoami(client, alice.headers("session"))[1]["user"] == "alice"
    assert redis_server.process is not None
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert whoami(client, alice.headers("session")) == (503, UNAVAILABLE)
        assert time.monotonic() - started < 10
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert whoami(client, alice.headers("session"))[1]["user"] == "alice"
    world.hub.close()


def _hidden(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]*)"', page)
    assert match
    return match.group(1)


# -- a plugin that breaks ---------------------------------------------------------------------


class Boom:
    """A third-party scheme that fails in the ways plugins fail, when ``X-Boom`` says how."""

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request) -> Any:
        how = request.headers.get_all("x-boom")
        if not how:
            return None
        if how[0] == "raise":
            raise KeyError("a bug in a plugin")
        if how[0] == "recursion":
            raise RecursionError("maximum recursion depth exceeded")
        if how[0] == "garbage":
            return "alice"  # not (user, auth)
        if how[0] == "no-user":
            return (None, "auth")
        return None


class AsyncBoom:
    @authhub.hookimpl
    async def authenticate(self, request: authhub.Request) -> Any:
        if request.headers.get_all("x-async-boom"):
            raise ZeroDivisionError("async plugin bug")
        return None


def boom_hub(tmp_path: Path) -> World:
    hub = hub_for_tests(tmp_path, plugins={"boom": Boom(), "asyncboom": AsyncBoom()},
                        schemes=["boom", "asyncboom", *SCHEMES], lockout_enabled=False)
    hub.upgrade()
    return seed(hub)


@pytest.mark.parametrize("how", ["raise", "recursion", "garbage", "no-user"])
def test_a_broken_plugin_fails_closed_over_wsgi(tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture) -> None:
    world = boom_hub(tmp_path)
    client = wsgi_client(world.hub)
    alice = world.people["alice"]
    for scheme in SCHEMES:
        # The broken scheme comes first in the chain: good credentials of another scheme do not get past it.
        with caplog.at_level(logging.ERROR, logger="authhub.chain"):
            caplog.clear()
            for path in ("/whoami", "/protected", "/auth/verify"):
                assert whoami(client, {**alice.headers(scheme), "X-Boom": how}, path) == (500, INTERNAL)
        assert any("'boom'" in record.getMessage() for record in caplog.records), caplog.text
        # Without the trigger the same request goes through, and the plugin's fault left nothing behind.
        assert whoami(client, alice.headers(scheme))[1]["user"] == "alice"
    world.hub.close()


def test_a_broken_plugin_fails_closed_over_asgi(tmp_path: Path) -> None:
    world = boom_hub(tmp_path)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["authhub.identity"].user.username.encode()})

    async def run() -> list[tuple[int, bytes]]:
        transport = httpx.ASGITransport(app=AuthMiddleware(app, world.hub))
        alice = world.people["alice"]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = []
            for trigger in ({"X-Boom": "raise"}, {"X-Async-Boom": "1"}, {}):
                response = await client.get("/", headers={**alice.headers("token"), **trigger})
                answers.append((response.status_code, response.content))
            return answers

    raised, async_raised, fine = asyncio.run(run())
    assert raised == async_raised == (500, b'{"detail":"Authentication failed because of an internal error."}')
    assert fine == (200, b"alice")
    world.hub.close()


def test_no_credential_reaches_a_log_line_even_when_things_fail(
        pg_world: World, postgres: PostgresServer, caplog: pytest.LogCaptureFixture) -> None:
    """Every logger at DEBUG while good, wrong and guessed credentials of every scheme are sent, the
    login form is posted, and the database goes away mid-way: no secret in any record or traceback."""
    client = wsgi_client(pg_world.hub)
    alice = pg_world.people["alice"]
    sent = [alice.password, alice.token, alice.bearer, alice.session_id, alice.csrf,
            "wrong-" + alice.password, alice.token[:-8] + "deadbeef", alice.bearer[:-4] + "abcd"]

    def everything() -> None:
        for scheme in SCHEMES:
            client.get("/protected", headers=alice.headers(scheme))
        client.get("/whoami", headers={"Authorization": f"Basic {alice.bearer}"})  # a secret under the wrong scheme
        client.get("/whoami", headers={"Authorization": f"Basic {_b64('alice:wrong-' + alice.password)}"})
        client.get("/whoami", headers={"Authorization": f"Token {alice.token[:-8]}deadbeef"})
        client.get("/whoami", headers={"Authorization": f"Bearer {alice.bearer[:-4]}abcd"})
        client.post("/logout", headers={**alice.headers("session"), "X-CSRF-Token": alice.csrf[:-2] + "xx"})
        page = client.get("/login")
        if page.status_code == 200:
            client.post("/login", data={"csrf_token": _hidden(page.text), "username": "alice",
                                        "password": "wrong-" + alice.password})

    with caplog.at_level(logging.DEBUG):
        everything()
        postgres.stop()
        try:
            everything()
        finally:
            postgres.start()
        everything()
    assert caplog.records  # the requests were logged (httpx), the check below is not vacuous
    logged = caplog.text + "".join(
        logging.Formatter().formatException(record.exc_info) for record in caplog.records if record.exc_info)
    for secret in sent:
        assert secret not in logged


def test_a_store_outage_is_logged(pg_world: World, postgres: PostgresServer,
                                  caplog: pytest.LogCaptureFixture) -> None:
    """Failing closed is also telling the operator: each scheme's 503 leaves an ERROR record naming it."""
    client = wsgi_client(pg_world.hub)
    alice = pg_world.people["alice"]
    postgres.stop()
    try:
        for scheme in SCHEMES:
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                assert client.get("/whoami", headers=alice.headers(scheme)).status_code == 503
            errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
            assert any(scheme in message and "unavailable" in message for message in errors), (scheme, errors)
    finally:
        postgres.start()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_sqlite_database_that_cannot_be_opened_under_every_scheme(tmp_path: Path) -> None:
    """The seeded credentials, presented to a hub whose SQLite path is a directory: 503 for every scheme."""
    (tmp_path / "good").mkdir()
    world = make_world(tmp_path / "good")
    unopenable = tmp_path / "a-directory.db"
    unopenable.mkdir()
    broken = hub_for_tests(tmp_path, schemes=SCHEMES, database_url=f"sqlite:///{unopenable}")
    client = wsgi_client(broken)
    alice = world.people["alice"]
    for scheme in SCHEMES:
        assert whoami(client, alice.headers(scheme), "/protected") == (503, UNAVAILABLE), scheme
    assert whoami(client, {}) == (200, {"authenticated": False, "user": None, "scheme": None})
    broken.close()
    world.hub.close()
