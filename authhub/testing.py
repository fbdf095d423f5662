"""A pytest plugin (entry point ``pytest11``) with fixtures for authhub tests.

Application developers and authhub's own plugins use the same fixtures:

``authhub_hub``
    a hub on a temporary SQLite database with its tables created, cheap
    argon2 parameters, every installed scheme in the chain.
``authhub_make_hub``
    a factory for more hubs: ``authhub_make_hub(schemes=["token"], ...)``.
``authhub_postgres_url``
    a fresh, empty database on the PostgreSQL server (``AUTHHUB_TEST_POSTGRES``,
    default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), dropped afterwards.
``authhub_redis_url``
    the Redis server to test against (``AUTHHUB_TEST_REDIS``, default
    ``redis://127.0.0.1:6379/0``).
``authhub_user``
    a factory for users: ``authhub_user("alice")`` creates a user in
    ``authhub_hub`` (or ``hub=``) with a random password (or ``password=``).
``authhub_auth_headers``
    ``authhub_auth_headers(user, scheme="token")`` makes working request
    headers of an installed scheme for a user (its ``auth_headers`` hook).
``authhub_browser``
    Debian's headless Chromium (``CHROMIUM_PATH``, default ``/usr/bin/chromium``)
    driven by Playwright, one per test module: ``page = authhub_browser.new_page()``.
``authhub_live_server``
    ``base = authhub_live_server(hub)``: the reference server (``authhub serve``)
    on a free loopback port.
``authhub_site``
    ``site = authhub_site("127.0.0.2")``: web pages on another loopback address
    (another origin, or another site, for the browser): a client application's,
    an attacker's. ``site.pages["/"] = html``, ``site.base``, ``site.visits``.
``authhub_account_hub``
    a hub whose users live in an application's own table with string ids
    (:class:`authhub.appusers.AccountStore`, reached as ``hub.users``):
    ``hub.users.add("alice", "pw")`` creates one, ``hub.users.disable("alice")``
    deactivates it behind authhub's back. Takes the same settings as
    ``authhub_make_hub``: ``authhub_account_hub(schemes=["token"])``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

from authhub.hub import AuthHub

#: Cheap argon2id parameters for tests (the real defaults take ~50 ms a hash).
FAST_HASHING = {"password_time_cost": 1, "password_memory_cost": 8, "password_parallelism": 1}

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def hub_for_tests(directory: Path, **settings: Any) -> AuthHub:
    """A hub isolated from the environment and the working directory's files."""
    options: dict[str, Any] = {
        "database_url": f"sqlite:///{directory / 'authhub.db'}",
        **FAST_HASHING,
    }
    options.update(settings)
    environ = options.pop("environ", {})
    return AuthHub(directory=directory, environ=environ, **options)


@pytest.fixture
def authhub_make_hub(tmp_path: Path) -> Iterator[Callable[..., AuthHub]]:
    """Build hubs on a temporary SQLite database (or ``database_url=``), tables created."""
    hubs: list[AuthHub] = []

    def make(upgrade: bool = True, **settings: Any) -> AuthHub:
        hub = hub_for_tests(tmp_path, **settings)
        hubs.append(hub)
        if upgrade:
            hub.upgrade()
        return hub

    yield make
    for hub in hubs:
        hub.close()


@pytest.fixture
def authhub_hub(authhub_make_hub: Callable[..., AuthHub]) -> AuthHub:
    return authhub_make_hub()


#: How the tests start Chromium here: as root without its sandbox, and without the
#: background connections that a closed network refuses (or waits on) at every start.
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
)


@pytest.fixture(scope="module")
def authhub_browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright (``pip install playwright``; the browser is the system's)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def authhub_account_hub(authhub_make_hub: Callable[..., AuthHub]) -> Callable[..., AuthHub]:
    """Build hubs whose user store is an application's own table with string ids (see the module doc)."""
    from authhub.appusers import AccountStorePlugin

    def make(**settings: Any) -> AuthHub:
        plugins = {"app_accounts": AccountStorePlugin(), **settings.pop("plugins", {})}
        return authhub_make_hub(plugins=plugins, **settings)

    return make


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the PostgreSQL server for as long as the block runs (also for module-scoped worlds)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin_url = make_url(os.environ.get("AUTHHUB_TEST_POSTGRES", POSTGRES_ADMIN_URL))
    name = f"authhub_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def authhub_postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server, dropped after the test."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def authhub_redis_url() -> str:
    return os.environ.get("AUTHHUB_TEST_REDIS", REDIS_URL)


class LiveServers:
    """Reference servers (waitress, as ``authhub serve`` runs it) in threads, on free loopback ports."""

    def __init__(self) -> None:
        self.running: list[tuple[Any, threading.Thread]] = []

    def start(self, hub: AuthHub) -> str:
        """Serve ``hub``'s reference application; returns its base URL."""
        from waitress.server import BaseWSGIServer

        from authhub.server import create_server

        server = create_server(hub, host="127.0.0.1", port=0, threads=4)
        assert isinstance(server, BaseWSGIServer) and server.socket is not None  # one host: one listening socket
        thread = threading.Thread(target=server.run, daemon=True)
        self.running.append((server, thread))
        thread.start()
        host, port = server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Let requests in flight finish, then close every server's sockets."""
        from waitress import wasyncore

        while self.running:
            server, thread = self.running.pop()
            server.task_dispatcher.shutdown()
            try:
                # Close from the server's own loop thread: closing from here races
                # with its select() and with workers pulling the trigger.
                server.trigger.pull_trigger(lambda server=server: wasyncore.close_all(server._map))
            except OSError:
                # Its trigger is already closed (seen once on a loaded machine, EBADF):
                # the loop cannot be woken, so close what is left from here.
                wasyncore.close_all(server._map)
            thread.join(timeout=10)


@pytest.fixture
def authhub_live_server() -> Iterator[Callable[[AuthHub], str]]:
    """Serve hubs' reference applications on free loopback ports; returns the base URL.

    ``base = authhub_live_server(hub)`` starts waitress in a thread (the same
    server ``authhub serve`` runs) and stops it after the test.
    """
    servers = LiveServers()
    yield servers.start
    servers.stop()


class Site:
    """Web pages served from ``host`` on a free port, for browser tests that need another origin.

    ``pages[path]`` is the HTML of each path (any other path gets an empty
    page); ``visits`` lists the paths requested, query included, in order.
    """

    def __init__(self, host: str) -> None:
        self.pages: dict[str, str] = {}
        self.visits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.visits.append(self.path)
                body = site.pages.get(urlsplit(self.path).path, "<!doctype html><title>site</title>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        #: ``http://host:port``
        self.base = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def authhub_site() -> Iterator[Callable[[str], Site]]:
    """``authhub_site(host)``: a :class:`Site` on ``host`` (``127.0.0.2``, ...), closed after the test.

    ``127.0.0.1`` on another port is another origin of the same site (a
    browser sends ``SameSite=Lax`` cookies along); ``127.0.0.2`` is another site.
    """
    started: list[Site] = []

    def start(host: str) -> Site:
        started.append(Site(host))
        return started[-1]

    yield start
    for site in started:
        site.close()


@attrs.frozen
class _MadeUser:
    user: Any
    hub: AuthHub
    password: str = attrs.field(repr=False)


@pytest.fixture
def _authhub_made_users() -> dict[int, _MadeUser]:
    """Users made by ``authhub_user`` in this test, by ``id(user)``, with their hub and password."""
    return {}


@pytest.fixture
def authhub_user(request: pytest.FixtureRequest, _authhub_made_users: dict[int, _MadeUser]) -> Callable[..., Any]:
    """Create users: ``authhub_user("alice", password=None, hub=None, is_active=True)``.

    The user lives in ``hub`` (default: ``authhub_hub``); without a password
    it gets a random one, which ``authhub_auth_headers`` remembers.
    """
    numbers = itertools.count(1)

    def make(
        username: str | None = None,
        password: str | None = None,
        *,
        hub: AuthHub | None = None,
        is_active: bool = True,
    ) -> Any:
        hub = hub if hub is not None else request.getfixturevalue("authhub_hub")
        username = username if username is not None else f"user{next(numbers)}"
        password = password if password is not None else secrets.token_urlsafe(16)
        user = hub.users.create(username, password, is_active=is_active)
        _authhub_made_users[id(user)] = _MadeUser(user, hub, password)
        return user

    return make


@pytest.fixture
def authhub_auth_headers(
    request: pytest.FixtureRequest, _authhub_made_users: dict[int, _MadeUser]
) -> Callable[..., dict[str, str]]:
    """Make credentials: ``authhub_auth_headers(user, scheme="token")`` -> request headers.

    Calls the ``auth_headers`` hook of the plugin named ``scheme``, on the
    hub the user was made in (or ``hub=``), with the user's password (or
    ``password=``).
    """

    def auth_headers(
        user: Any, scheme: str = "token", *, hub: AuthHub | None = None, password: str | None = None
    ) -> dict[str, str]:
        made = _authhub_made_users.get(id(user))
        if hub is None:
            hub = made.hub if made is not None else request.getfixturevalue("authhub_hub")
        if password is None and made is not None:
            password = made.password
        if scheme not in hub.installed_schemes:
            raise LookupError(
                f"scheme {scheme!r} cannot make test credentials: it is not installed in this hub; "
                f"installed schemes: {', '.join(hub.installed_schemes) or 'none'}"
            )
        headers = hub.auth_headers(scheme, user, password)
        if not headers:
            raise LookupError(f"scheme {scheme!r} made no credentials for {getattr(user, 'username', user)!r}")
        return dict(headers)

    return auth_headers
