"""Scale: token authentication with 10,000 vs 1,000,000 tokens, on SQLite and on PostgreSQL.

The same request as the ``authhub token`` case, on databases whose only
difference is the number of token rows (10,000 users either way), after
warm-up calls so the pages it touches are cached. For PostgreSQL a
database is made on the server, filled with ``COPY``, measured at 10,000
tokens, grown to 1,000,000, measured again, and dropped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fixtures
import sqlalchemy as sa
from cases_authhub import close_hubs, hub_for, request_call
from harness import Case, Settings, Timing, measure_together
from sqlalchemy.engine import make_url

GROUP = "scale"


#: The lookup cases measure the store: the token cache (on by default) is turned off.
NO_CACHE = {"cache_ttl": 0.0}


def _case(backend: str, count: int, hub: Any, key: str) -> Case:
    headers = [("host", "api.example"), ("authorization", f"Token {key}")]
    return Case(f"token lookup, {backend}, {count:,} tokens", GROUP, request_call(hub, headers),
                waits=backend == "PostgreSQL", note="token.cache_ttl = 0")


def _warm_case(backend: str, hub: Any, key: str) -> Case:
    """The same request with the default settings: the cache on, warm, the invalidation channel listening."""
    headers = [("host", "api.example"), ("authorization", f"Token {key}")]
    call = request_call(hub, headers)
    assert hub.changes.wait_until_current(10), f"the invalidation channel on {backend} did not catch up"
    call()
    # A hit never reaches the server: timed like the SQLite case, by the measuring thread's CPU time.
    return Case(f"token, {backend}, warm cache", GROUP, call, note="default settings: cache on, channel current")


def sqlite(run_dir: Path, small: Path, small_key: str, settings: Settings) -> list[Timing]:
    import floors

    large, meta = fixtures.scale_database(run_dir)
    cold = measure_together([
        _case("SQLite", fixtures.USERS, hub_for(run_dir, small, schemes=["token"], token=NO_CACHE), small_key),
        _case("SQLite", fixtures.SCALE_TOKENS, hub_for(run_dir, large, schemes=["token"], token=NO_CACHE),
              meta["token_key"]),
        floors.sqlite_join(small, small_key, name="floor: sqlite3 join, 10,000 tokens"),
        floors.sqlite_join(large, meta["token_key"], name="floor: sqlite3 join, 1,000,000 tokens"),
    ], settings)
    # Apart: its hub's invalidation listener would run beside the cases without a cache (close_hubs).
    warm = measure_together([_warm_case("SQLite", hub_for(run_dir, small, schemes=["token"]), small_key)], settings)
    close_hubs()
    return cold + warm


def postgres(run_dir: Path, admin_url: str, settings: Settings) -> list[Timing]:
    """Two databases made on the server (10,000 and 1,000,000 tokens), measured together, then dropped."""
    admin = sa.create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    suffix = uuid.uuid4().hex[:10]
    names = {count: f"authhub_bench_{count}_{suffix}" for count in (fixtures.USERS, fixtures.SCALE_TOKENS)}
    hubs: list[Any] = []
    try:
        cases: list[Case] = []
        floors_: list[Case] = []
        for count, name in names.items():
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = make_url(admin_url).set(database=name)
            database_url = url.render_as_string(hide_password=False)
            hub = hub_for(run_dir, Path("unused"), schemes=["token"], database_url=database_url, token=NO_CACHE)
            hubs.append(hub)
            hub.upgrade()
            psycopg_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
            key = _fill_postgres(psycopg_url, count)
            cases.append(_case("PostgreSQL", count, hub, key))
            if count == fixtures.USERS:
                warm_database, warm_key = database_url, key
            floors_.append(_postgres_floor(psycopg_url, key, count))
        cold = measure_together([*cases, *floors_], settings)
        # Apart, as on SQLite: its listener thread (LISTEN) would run beside the cases without a cache.
        warm = hub_for(run_dir, Path("unused"), schemes=["token"], database_url=warm_database)
        hubs.append(warm)
        return cold + measure_together([_warm_case("PostgreSQL", warm, warm_key)], settings)
    finally:
        for hub in hubs:
            hub.close()
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def filled_postgres(run_dir: Path, admin_url: str) -> Iterator[tuple[str, str]]:
    """A PostgreSQL database with the 10,000 users and tokens, tables made by authhub: ``(URL, token key)``.

    Made on the server for the over-HTTP and propagation cases, dropped afterwards.
    """
    admin = sa.create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"authhub_bench_http_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name)
        database_url = url.render_as_string(hide_password=False)
        hub = hub_for(run_dir, Path("unused"), schemes=["token"], database_url=database_url)
        try:
            hub.upgrade()
        finally:
            hub.close()
        key = _fill_postgres(url.set(drivername="postgresql").render_as_string(hide_password=False), fixtures.USERS)
        yield database_url, key
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fill_postgres(url: str, tokens: int) -> str:
    """10,000 users and ``tokens`` tokens with ``COPY``; returns the benchmark user's token key."""
    import psycopg

    from authhub_token.keys import digest, generate_key

    key = generate_key()
    now = dt.datetime.now(dt.timezone.utc)
    real = fixtures.real_hasher().hash(fixtures.PASSWORD)
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy("COPY authhub_user (id, username, password_hash, is_active, created_at, updated_at) "
                         "FROM STDIN") as copy:
            for i in range(1, fixtures.USERS + 1):
                copy.write_row((i, fixtures.USERNAME if i == 1 else f"user{i:05d}", real, True, now, now))
        with cursor.copy("COPY authhub_token (name, scopes, created_at, user_id, digest, revoked) FROM STDIN") as copy:
            for i in range(tokens):
                copy.write_row(("default", "", now, str((i % fixtures.USERS) + 1),
                                digest(key) if i == 0 else os.urandom(32), False))
    with psycopg.connect(url, autocommit=True) as connection:
        # COPY gave the users their ids: move the sequence past them for the users made later.
        connection.execute("SELECT setval(pg_get_serial_sequence('authhub_user', 'id'), "
                           "(SELECT max(id) FROM authhub_user))")
        connection.execute("VACUUM ANALYZE")
    return key


def _postgres_floor(url: str, key: str, count: int) -> Case:
    """The join on one open psycopg connection (autocommit, server-side prepared): PostgreSQL's floor."""
    import hashlib

    import psycopg

    query = ("SELECT t.id, t.user_id, u.username, u.is_active, t.name, t.scopes, t.expires_at, t.last_used_at "
             "FROM authhub_token AS t JOIN authhub_user AS u ON u.id = CAST(t.user_id AS INTEGER) "
             "WHERE t.digest = %s AND t.revoked IS false")
    token_digest = hashlib.sha256(key.encode()).digest()
    connection = psycopg.connect(url, autocommit=True)
    cursor = connection.cursor()
    assert cursor.execute(query, (token_digest,), prepare=True).fetchone() is not None

    def call() -> Any:
        return cursor.execute(query, (token_digest,), prepare=True).fetchone()

    return Case(f"floor: psycopg join, {count:,} tokens", GROUP, call, note="digest precomputed; prepared",
                waits=True)
