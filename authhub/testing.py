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
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture
def authhub_postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server, dropped after the test."""
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
def authhub_redis_url() -> str:
    return os.environ.get("AUTHHUB_TEST_REDIS", REDIS_URL)


@pytest.fixture
def authhub_live_server() -> Iterator[Callable[[AuthHub], str]]:
    """Serve hubs' reference applications on free loopback ports; returns the base URL.

    ``base = authhub_live_server(hub)`` starts waitress in a thread (the same
    server ``authhub serve`` runs) and stops it after the test.
    """
    import threading

    from waitress.server import create_server

    from authhub.server import make_app

    servers: list[Any] = []

    def start(hub: AuthHub) -> str:
        server = create_server(make_app(hub), host="127.0.0.1", port=0, threads=4)
        servers.append(server)
        threading.Thread(target=server.run, daemon=True).start()
        host, port = server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    yield start
    for server in servers:
        server.close()
