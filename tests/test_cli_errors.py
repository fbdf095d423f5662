"""Every error a newcomer can hit is one line that names the fix, a non-zero exit and no traceback."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

import authhub
from authhub.cli import cli
from authhub.server import make_app
from authhub.testing import hub_for_tests

FAST = {
    "AUTHHUB_PASSWORD_TIME_COST": "1",
    "AUTHHUB_PASSWORD_MEMORY_COST": "8",
    "AUTHHUB_PASSWORD_PARALLELISM": "1",
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory and no AUTHHUB_* settings but cheap hashing: the default database is ./authhub.db."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("AUTHHUB_")]:
        monkeypatch.delenv(key)
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def one_line_error(result: Result) -> str:
    """The error ``result`` ended with, checked to be one line, exit status 1, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an exception escaping click
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- the reference server ---------------------------------------------------------


def authhub_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    return subprocess.run([sys.executable, "-m", "authhub", *args], env={**environ, **FAST}, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_serve_on_a_port_in_use_says_so_before_announcing_anything(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = authhub_process("serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (f"Error: cannot serve on 127.0.0.1:{port}: the port is in use (is another server "
                             "running?); stop it or pick another port with --port\n")
    assert result.stdout == ""
    assert not (tmp_path / "authhub.db").exists()  # refused before touching the database


@pytest.mark.parametrize(("host", "message"), [
    ("999.1.1.1", "--host '999.1.1.1' is not an IPv4 address"),
    ("1.2.3", "--host '1.2.3' is not an IPv4 address"),
    # TEST-NET-2 (RFC 5737): never an address of this machine, and nothing is sent to it.
    ("198.51.100.7", "cannot serve on 198.51.100.7: it is not an address of this machine"),
])
def test_serve_on_a_wrong_host(workdir, host, message):
    line = one_line_error(invoke("serve", "--host", host, "--port", "0"))
    assert message in line
    assert "--host 127.0.0.1" in line
    assert not (workdir / "authhub.db").exists()


# -- the database URL ----------------------------------------------------------------


# ``check`` lists its problems as "error: ..."; the other commands end with click's "Error: ...".
@pytest.mark.parametrize("args", [("check",), ("db", "upgrade"), ("users", "list"), ("serve", "--port", "0")])
def test_an_unparsable_database_url(workdir, monkeypatch, args):
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", "postgres:/admin@db/x")
    line = one_line_error(invoke(*args))
    assert line.lower() == ("error: database_url 'postgres:/admin@db/x' is not a database url "
                            "(e.g. sqlite:///authhub.db or postgresql://user@host/dbname)")


def test_an_unparsable_url_never_shows_its_password(workdir, monkeypatch):
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", "post gres://admin:hunter2@db/x")
    line = one_line_error(invoke("check"))
    assert "hunter2" not in line
    assert "'post gres://***@db/x' is not a database URL" in line


def test_an_unknown_database(workdir, monkeypatch):
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", "mongodb://db/x")
    line = one_line_error(invoke("db", "upgrade"))
    assert line.endswith("database_url mongodb://db/x: unknown database 'mongodb' "
                         "(e.g. sqlite:///authhub.db or postgresql://user@host/dbname)")


def test_postgresql_without_psycopg_names_the_extra(workdir, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # an import of psycopg now fails as if it were not installed
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", "postgresql://postgres:s3cret@127.0.0.1/test")
    for args in (("db", "upgrade"), ("check",), ("users", "list")):
        line = one_line_error(invoke(*args))
        assert line.endswith("database_url postgresql+psycopg://postgres:***@127.0.0.1/test needs the PostgreSQL "
                             'driver psycopg: pip install "authhub-core[postgres]"')


# -- the store's real cause ------------------------------------------------------------


def test_connection_refused(workdir, monkeypatch):
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    for args in (("db", "upgrade"), ("users", "list")):
        line = one_line_error(invoke(*args))
        assert line == ("Error: Authentication store unavailable. database postgresql://postgres@127.0.0.1:1/none: "
                        "connection refused by 127.0.0.1:1: is the database server running there?")
    check = invoke("check")
    assert check.exit_code == 1
    assert "connection refused by 127.0.0.1:1" in check.stderr


@pytest.mark.postgres
def test_a_missing_postgresql_database(workdir, monkeypatch):
    name = f"authhub_missing_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/{name}")
    line = one_line_error(invoke("db", "upgrade"))
    assert line.endswith(f"database '{name}' does not exist on 127.0.0.1:5432: create it (createdb {name}) "
                         "or fix database_url")


@pytest.mark.postgres
def test_missing_tables_on_postgresql(workdir, monkeypatch, authhub_postgres_url):
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", authhub_postgres_url)
    for args in (("users", "list"), ("check",)):
        line = one_line_error(invoke(*args))
        assert "is not up to date (missing authhub_0001" in line
        assert line.endswith("run 'authhub db upgrade'")
    engine = sa.create_engine(authhub_postgres_url, poolclass=sa.pool.NullPool)
    assert sa.inspect(engine).get_table_names() == []  # read-only commands created nothing
    engine.dispose()


def test_a_missing_directory(workdir, monkeypatch):
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", "sqlite:///no/such/dir/authhub.db")
    line = one_line_error(invoke("db", "upgrade"))
    assert line == (f"Error: Authentication store unavailable. database sqlite:///{workdir}/no/such/dir/authhub.db: "
                    f"directory {workdir}/no/such/dir does not exist: create it or change database_url")


def test_the_sqlite_path_is_printed_absolute(workdir):
    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"database sqlite:///{workdir}/authhub.db is up to date" in upgraded.stderr
    assert invoke("check").stdout.strip().endswith(f"database sqlite:///{workdir}/authhub.db")


# -- read-only commands create nothing ----------------------------------------------------


@pytest.mark.parametrize("args", [("users", "list"), ("check",), ("db", "current")])
def test_read_only_commands_never_create_a_database(workdir, args):
    result = invoke(*args)
    assert result.exit_code == 1
    assert f"no database at {workdir}/authhub.db: run 'authhub db upgrade' to create it" in result.stderr
    assert "Traceback" not in result.output
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("args", [("users", "list"), ("check",)])
def test_read_only_commands_refuse_tables_that_are_not_there(workdir, args):
    sqlite_file = workdir / "authhub.db"
    sqlite_file.touch()  # an empty database: no tables
    line = one_line_error(invoke(*args))
    assert line.lower().startswith(f"error: database sqlite:///{sqlite_file} is not up to date (missing authhub_0001")
    assert line.endswith("run 'authhub db upgrade'")
    engine = sa.create_engine(f"sqlite:///{sqlite_file}")
    assert sa.inspect(engine).get_table_names() == []  # nothing was created in it
    engine.dispose()


# -- the server's log: the cause for the operator, nothing for the client ---------------------


class UserLookup:
    """A scheme that reads the user store for every request (``X-User: name``), as schemes do."""

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> tuple[Any, None] | None:
        name = request.headers.get("x-user")
        if name is None:
            return None
        user = hub.users.get_by_username(name)
        if user is None:
            raise authhub.AuthenticationFailed()
        return user, None


def whoami_through_the_server(hub: authhub.AuthHub) -> tuple[str, bytes]:
    status: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/whoami", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "HTTP_X_USER": "alice"}
    body = b"".join(make_app(hub)(environ, lambda line, headers: status.append(line)))
    return status[0], body


def test_missing_tables_are_logged_with_the_fix_while_the_client_reads_the_generic_detail(tmp_path, caplog):
    hub = hub_for_tests(tmp_path, plugins={"lookup": UserLookup()}, schemes=["lookup"])  # tables never created
    caplog.set_level(logging.ERROR, logger="authhub")
    status, body = whoami_through_the_server(hub)
    hub.close()
    assert status == "503 Service Unavailable"
    assert body == b'{"detail":"Authentication store unavailable."}'
    assert "scheme 'lookup': store unavailable: table authhub_user is missing: run 'authhub db upgrade'" in caplog.text


def test_an_unreachable_server_is_logged_with_its_address(tmp_path, caplog):
    hub = hub_for_tests(tmp_path, plugins={"lookup": UserLookup()}, schemes=["lookup"],
                        database_url="postgresql://postgres:s3cret@127.0.0.1:1/none")
    caplog.set_level(logging.ERROR, logger="authhub")
    status, body = whoami_through_the_server(hub)
    hub.close()
    assert status == "503 Service Unavailable"
    assert body == b'{"detail":"Authentication store unavailable."}'
    assert "store unavailable: connection refused by 127.0.0.1:1: is the database server running there?" in caplog.text
    assert "s3cret" not in caplog.text


def test_an_unreachable_redis_is_named_as_such():
    import redis

    from authhub.storeerrors import describe_outage

    with pytest.raises(redis.exceptions.ConnectionError) as refused:
        redis.Redis.from_url("redis://127.0.0.1:1/0").ping()
    assert describe_outage(refused.value, "sqlite:///x.db") == (
        "Redis at 127.0.0.1:1 refused the connection: is it running there?")
