"""The data every case runs on: SQLite files with 10,000 users (and 1,000,000 tokens for the scale case).

Building them takes a while (1,000,000 rows, one real argon2 hash), so
each database is built once with bulk inserts into ``benchmarks/.cache/``
and copied into the run's own directory: a run may write (sessions, a
token's ``last_used_at``) without changing the cached copy. A cached file
is rebuilt when :data:`VERSION` or the installed migrations change.

Every user shares one filler password hash except the benchmark user
(``bench``, id 1), whose hash is made with the real default parameters:
the data size is what matters for the others, and 10,000 real argon2
hashes would take ten minutes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2

VERSION = 3
CACHE = Path(__file__).parent / ".cache"
USERS = 10_000
SCALE_TOKENS = 1_000_000
USERNAME = "bench"
PASSWORD = "correct horse battery staple"
#: authhub's default argon2id parameters (``authhub.config.CORE_SETTINGS``).
ARGON2 = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}


def real_hasher() -> argon2.PasswordHasher:
    return argon2.PasswordHasher(type=argon2.Type.ID, **ARGON2)


def _timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _migration_fingerprint() -> str:
    from authhub import AuthHub

    hub = AuthHub(directory=tempfile.gettempdir(), environ={}, database_url="sqlite://", check_chain=False)
    names = sorted(str(path.name) for directory in hub.migration_directories() for path in Path(directory).glob("*.py"))
    return hashlib.sha256(json.dumps([VERSION, names]).encode()).hexdigest()[:12]


def _cached(name: str, build: Any) -> tuple[Path, dict[str, Any]]:
    """``(database file, metadata)`` of the cached database ``name``, built first when missing or stale."""
    CACHE.mkdir(exist_ok=True)
    fingerprint = _migration_fingerprint()
    database = CACHE / f"{name}-{fingerprint}.db"
    meta_file = database.with_suffix(".json")
    if not (database.exists() and meta_file.exists()):
        for stale in CACHE.glob(f"{name}-*"):
            stale.unlink()
        partial = database.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        meta = build(partial)
        partial.rename(database)
        meta_file.write_text(json.dumps(meta))
    return database, json.loads(meta_file.read_text())


def copy_into(run_dir: Path, name: str, database: Path) -> Path:
    target = run_dir / f"{name}.db"
    shutil.copyfile(database, target)
    return target


# -- authhub databases -------------------------------------------------------------------


def _authhub_schema(path: Path) -> None:
    from authhub import AuthHub

    hub = AuthHub(directory=path.parent, environ={}, database_url=f"sqlite:///{path}", check_chain=False)
    hub.upgrade()
    hub.close()


def _fast_connection(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-200000")
    return connection


def _insert_users(connection: sqlite3.Connection, now: str) -> None:
    real = real_hasher().hash(PASSWORD)
    filler = argon2.PasswordHasher(type=argon2.Type.ID, **ARGON2).hash("filler password")
    rows = ((i, USERNAME if i == 1 else f"user{i:05d}", real if i == 1 else filler, 1, now, now)
            for i in range(1, USERS + 1))
    connection.executemany(
        "INSERT INTO authhub_user (id, username, password_hash, is_active, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", rows)


def _insert_tokens(connection: sqlite3.Connection, count: int, now: str) -> str:
    """``count`` tokens, one per user in turn; the first belongs to ``bench`` and its key is returned."""
    from authhub_token.keys import digest, generate_key

    key = generate_key()
    rows: Iterator[tuple[Any, ...]] = (
        ("default", "", now, None, None, str((i % USERS) + 1), digest(key) if i == 0 else os.urandom(32), 0)
        for i in range(count)
    )
    connection.executemany(
        "INSERT INTO authhub_token (name, scopes, created_at, last_used_at, expires_at, user_id, digest, revoked) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return key


def _insert_sessions(connection: sqlite3.Connection, now: str) -> None:
    rows = ((os.urandom(32).hex(), str(i), os.urandom(16).hex(), now, now) for i in range(2, USERS + 1))
    connection.executemany(
        "INSERT INTO authhub_session (digest, user_id, csrf_secret, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
        rows)


def _tables(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _build_authhub(path: Path, tokens: int) -> dict[str, Any]:
    _authhub_schema(path)
    now = _timestamp(dt.datetime.now(dt.timezone.utc))
    connection = _fast_connection(path)
    with connection:
        _insert_users(connection, now)
        key = _insert_tokens(connection, tokens, now)
        if "authhub_session" in _tables(connection):
            _insert_sessions(connection, now)
    connection.execute("ANALYZE")
    connection.close()
    return {"token_key": key, "users": USERS, "tokens": tokens}


def authhub_database(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The 10,000-user authhub database (10,000 tokens, 9,999 other users' sessions), copied for this run."""
    cached, meta = _cached("authhub-10k", lambda path: _build_authhub(path, USERS))
    return copy_into(run_dir, "authhub", cached), meta


def scale_database(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """10,000 users holding 1,000,000 tokens, copied for this run."""
    cached, meta = _cached("authhub-1m", lambda path: _build_authhub(path, SCALE_TOKENS))
    return copy_into(run_dir, "authhub-1m", cached), meta


# -- the Django database (DRF, authtoken, knox, sessions) ------------------------------------


def django_database(run_dir: Path) -> dict[str, Any]:
    """Configure Django on this run's copy of the 10,000-user database, building it first when needed."""
    import django_setup

    target = run_dir / "django.db"
    CACHE.mkdir(exist_ok=True)
    cached = CACHE / f"django-{_migration_fingerprint()}.db"
    meta_file = cached.with_suffix(".json")
    fresh = not (cached.exists() and meta_file.exists())
    if not fresh:
        shutil.copyfile(cached, target)
    django_setup.configure(target)
    if fresh:
        meta = _build_django()
        from django.db import connection

        connection.close()
        for stale in CACHE.glob("django-*"):
            stale.unlink()
        shutil.copyfile(target, cached)
        meta_file.write_text(json.dumps(meta))
    return json.loads(meta_file.read_text())


def _build_django() -> dict[str, Any]:
    import binascii

    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from knox.crypto import create_token_string, hash_token
    from knox.models import AuthToken
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    now = timezone.now()
    later = now + dt.timedelta(days=3650)
    real = make_password(PASSWORD)
    filler = make_password("filler password")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=OFF")
    with transaction.atomic():
        User.objects.bulk_create(
            [User(id=i, username=USERNAME if i == 1 else f"user{i:05d}", password=real if i == 1 else filler,
                  is_active=True, date_joined=now) for i in range(1, USERS + 1)], batch_size=2000)
        drf_key = binascii.hexlify(os.urandom(20)).decode()
        Token.objects.bulk_create(
            [Token(key=drf_key if i == 1 else binascii.hexlify(os.urandom(20)).decode(), user_id=i, created=now)
             for i in range(1, USERS + 1)], batch_size=2000)
        knox_rows = []
        for i in range(2, USERS + 1):
            token = create_token_string()
            knox_rows.append(AuthToken(digest=hash_token(token), token_key=token[:15], user_id=i, created=now,
                                       expiry=later))
        AuthToken.objects.bulk_create(knox_rows, batch_size=2000)
        Session.objects.bulk_create(
            [Session(session_key=binascii.hexlify(os.urandom(16)).decode(), session_data="filler", expire_date=later)
             for _ in range(2, USERS + 1)], batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"drf_token_key": drf_key, "users": USERS}
