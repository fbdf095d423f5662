"""Why the database cannot be used, in one line that names the fix.

The client of a refused request reads only the generic
:class:`~authhub.StoreUnavailable` detail; the operator reads the cause
described here, in the log and from the command line: a connection
refused, a missing database, missing tables, a missing directory, an
unparsable URL, a driver that is not installed. Nothing here puts a
password, a statement parameter or a digest into a message.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import sqlalchemy.exc
from sqlalchemy.engine import URL, make_url

from authhub.errors import ConfigurationError

UPGRADE = "run 'authhub db upgrade'"
EXAMPLES = "e.g. sqlite:///authhub.db or postgresql://user@host/dbname"


class DatabaseURLError(ConfigurationError):
    """``database_url`` cannot work: unparsable, an unknown database, a driver that is not installed."""


def parse_url(text: str) -> URL:
    """``text`` as a SQLAlchemy URL; :class:`DatabaseURLError` naming the expected form otherwise."""
    try:
        return make_url(text)
    except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
        raise DatabaseURLError(f"database_url {_masked(text)!r} is not a database URL ({EXAMPLES})") from None


def _masked(text: str) -> str:
    """An unparsable URL as it may be shown: whatever sits between ``://`` and the last ``@`` can be a password."""
    return re.sub(r"(?<=://).*@", "***@", str(text))


def display_url(text: str) -> str:
    """The URL for messages: its password hidden, a SQLite file's path made absolute."""
    try:
        url = make_url(text)
    except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
        return _masked(text)
    path = sqlite_path(url)
    if path is not None:
        url = url.set(database=str(path))
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL | str) -> Path | None:
    """The absolute path of an on-disk SQLite database, ``None`` for anything else (memory, a server)."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
            return None
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(os.path.abspath(database))


def missing_driver(url: URL, exc: ImportError) -> DatabaseURLError:
    """The error for a URL whose driver module is not installed."""
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "postgresql":
        return DatabaseURLError(
            f'database_url {shown} needs the PostgreSQL driver psycopg: pip install "authhub-core[postgres]"'
        )
    module = exc.name or "its driver"
    return DatabaseURLError(f"database_url {shown} needs {module}, which is not installed: pip install {module}")


def unknown_database(url: URL) -> DatabaseURLError:
    shown = url.render_as_string(hide_password=True)
    return DatabaseURLError(f"database_url {shown}: unknown database {url.drivername!r} ({EXAMPLES})")


def describe_outage(exc: BaseException | None, url: str | None = None) -> str:
    """What ``exc`` (the cause of a :class:`~authhub.StoreUnavailable`) means, and what to do.

    :param url: the hub's ``database_url``, for the host, port and SQLite
        path that the driver's own message may leave out.
    """
    if exc is None:
        return "no cause given"
    driver = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's exception
    message = str(driver)
    first = message.splitlines()[0].strip() if message.strip() else type(driver).__name__
    if is_redis_error(driver):
        target = re.search(r"connecting to (\S+?)\.? ", first)
        if "Connection refused" in first and target is not None:
            return f"Redis at {target.group(1)} refused the connection: is it running there?"
        return f"Redis: {first}"
    parsed = _parsed(url)
    where = _where(parsed, message)
    table = re.search(r'no such table: (\S+)|relation "([^"]+)" does not exist', message)
    if table is not None:
        return f"table {table.group(1) or table.group(2)} is missing: {UPGRADE}"
    if re.search(r"no such column|column \S+ does not exist", message):
        return f"the tables are older than the installed distributions ({first}): {UPGRADE}"
    if isinstance(driver, sqlite3.Error):
        return _describe_sqlite(first, parsed)
    database = re.search(r'database "([^"]+)" does not exist', message)
    if database is not None:
        name = database.group(1)
        return f"database {name!r} does not exist on {where}: create it (createdb {name}) or fix database_url"
    role = re.search(r'role "([^"]+)" does not exist', message)
    if role is not None:
        return f"role {role.group(1)!r} does not exist on {where}: create it or fix the user in database_url"
    if "password authentication failed" in message:
        return f"password authentication failed on {where}: check the user and password in database_url"
    if "Connection refused" in message:
        return f"connection refused by {where}: is the database server running there?"
    if "resolve host" in message or "translate host name" in message:
        host = parsed.host if parsed is not None and parsed.host else "the host"
        return f"cannot resolve {host!r}: check the host in database_url"
    if "timeout" in message.lower():
        return f"no answer from {where} in time: is the server reachable?"
    if "server closed the connection" in message or "terminating connection" in message:
        return f"the server at {where} closed the connection: it may be restarting"
    return f"{type(driver).__name__}: {first}"


def _describe_sqlite(first: str, url: URL | None) -> str:
    path = sqlite_path(url) if url is not None else None
    if "unable to open database file" in first:
        if path is None:
            return "cannot open the SQLite database file: is its directory missing or not writable?"
        if not path.parent.is_dir():
            return f"directory {path.parent} does not exist: create it or change database_url"
        return f"cannot open {path}: check that it and its directory are writable"
    if "database is locked" in first:
        return "the SQLite database stayed locked by another process for 5 s: retry, or use PostgreSQL for many writers"
    shown = f" {path}" if path is not None else ""
    return f"SQLite{shown}: {first}"


def _parsed(url: str | None) -> URL | None:
    if url is None:
        return None
    try:
        return make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
        return None


def _where(url: URL | None, message: str) -> str:
    """``host:port`` of the server, from the URL or else from the driver's message."""
    if url is not None and url.host is not None:
        return f"{url.host}:{url.port or 5432}" if url.get_backend_name() == "postgresql" else url.host
    server = re.search(r'server at "([^"]+)", port (\d+)', message)
    return f"{server.group(1)}:{server.group(2)}" if server is not None else "the database server"


def is_redis_error(exc: BaseException | None) -> bool:
    """Whether ``exc`` came from Redis rather than from the database."""
    return exc is not None and type(exc).__module__.startswith("redis.")
