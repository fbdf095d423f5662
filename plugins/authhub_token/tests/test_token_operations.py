"""Operating tokens: ``authhub tokens purge``, a read-only ``tokens list``, and the access log of ``authhub serve``."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

import authhub
import authhub_token
from authhub.cli import cli
from authhub.plugins import load_entry_points, new_manager
from authhub.testing import hub_for_tests
from authhub_token.models import Token


@pytest.fixture(scope="module", autouse=True)
def tokens_command() -> None:
    """Add the plugins' commands the way ``authhub``'s console script does."""
    pm = new_manager()
    load_entry_points(pm, {})
    pm.hook.register_commands(cli=cli)


def settings_env(monkeypatch: pytest.MonkeyPatch, directory: Path, database_url: str) -> None:
    monkeypatch.chdir(directory)
    for key in [k for k in os.environ if k.startswith("AUTHHUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("AUTHHUB_SCHEMES", "token")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("authhub_postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'tokens.db'}"


@pytest.fixture
def hub(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[authhub.AuthHub]:
    settings_env(monkeypatch, tmp_path, database_url)
    hub = hub_for_tests(tmp_path, database_url=database_url, schemes=["token"])
    hub.upgrade()
    yield hub
    hub.close()


def aged(hub: authhub.AuthHub, key: str, **columns: Any) -> int:
    """Give the token of ``key`` the column values a past would have left (created, used, expired...)."""
    (token_id,) = [r.id for r in authhub_token.list_tokens(hub) if r.name == key]
    with hub.store.session() as session:
        session.execute(sa.update(Token).where(Token.id == token_id).values(**columns))
    return int(token_id)


def test_purge_deletes_expired_and_revoked_tokens_older_than_the_cutoff(hub: authhub.AuthHub) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    days = dt.timedelta(days=1)
    hub.users.create("alice", "pw")
    keys = {name: authhub_token.create_token(hub, "alice", name=name).key for name in (
        "live", "expired-long-ago", "expired-lately", "revoked-used-long-ago", "revoked-never-used",
        "revoked-used-lately")}
    aged(hub, "expired-long-ago", created_at=now - 90 * days, expires_at=now - 40 * days)
    aged(hub, "expired-lately", created_at=now - 90 * days, expires_at=now - 10 * days)
    aged(hub, "revoked-used-long-ago", created_at=now - 90 * days, last_used_at=now - 40 * days, revoked=True)
    aged(hub, "revoked-never-used", created_at=now - 40 * days, revoked=True)
    aged(hub, "revoked-used-lately", created_at=now - 90 * days, last_used_at=now - days, revoked=True)

    first = invoke("tokens", "purge")
    assert first.exit_code == 0, first.output
    assert first.stdout == "purged 3 expired or revoked tokens\n"
    assert sorted(r.name for r in authhub_token.list_tokens(hub)) == ["expired-lately", "live", "revoked-used-lately"]

    second = invoke("tokens", "purge", "--older-than", "12h")
    assert second.stdout == "purged 2 expired or revoked tokens\n"
    assert [r.name for r in authhub_token.list_tokens(hub)] == ["live"]
    assert invoke("tokens", "purge").stdout == "purged 0 expired or revoked tokens\n"

    request = authhub.Request("GET", "/", [("Authorization", f"Token {keys['live']}")], hub=hub)
    assert request.user.username == "alice"  # the live token still works


@pytest.mark.parametrize("value", ["never", "30", "-1d", "0s", "soon"])
def test_purge_refuses_a_bad_duration_and_deletes_nothing(hub: authhub.AuthHub, value: str) -> None:
    hub.users.create("alice", "pw")
    authhub_token.create_token(hub, "alice", name="old")
    aged(hub, "old", revoked=True, created_at=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
    result = invoke("tokens", "purge", "--older-than", value)
    assert result.exit_code == 2
    assert "--older-than" in result.stderr
    assert len(authhub_token.list_tokens(hub)) == 1


def test_list_creates_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_env(monkeypatch, tmp_path, "sqlite:///authhub.db")
    result = invoke("tokens", "list")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: no database at {tmp_path}/authhub.db: run 'authhub db upgrade' to create it, "
                             "or set database_url\n")
    assert list(tmp_path.iterdir()) == []


def test_list_refuses_a_database_without_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_env(monkeypatch, tmp_path, "sqlite:///authhub.db")
    (tmp_path / "authhub.db").touch()
    result = invoke("tokens", "list")
    assert result.exit_code == 1
    assert "is not up to date (missing " in result.stderr and "token_0001" in result.stderr
    assert result.stderr.endswith("run 'authhub db upgrade'\n")


def test_the_access_log_names_the_token_user_and_never_the_key(tmp_path: Path) -> None:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    environ.update({"AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "AUTHHUB_SCHEMES": "token",
                    "AUTHHUB_PASSWORD_TIME_COST": "1", "AUTHHUB_PASSWORD_MEMORY_COST": "8",
                    "AUTHHUB_PASSWORD_PARALLELISM": "1"})

    def authhub_command(*args: str, stdin: str = "") -> str:
        done = subprocess.run([sys.executable, "-m", "authhub", *args], env=environ, cwd=tmp_path, input=stdin,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    authhub_command("users", "add", "alice", "--password-stdin", stdin="pw\n")
    key = authhub_command("tokens", "create", "alice")
    process = subprocess.Popen([sys.executable, "-m", "authhub", "serve", "--port", "0", "--access-log", "json"],
                               env=environ, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        announced = process.stderr.readline()
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/)", announced)
        assert match, announced
        good = httpx.get(match.group(1) + "whoami", headers={"Authorization": f"Token {key}"}, timeout=10)
        bad = httpx.get(match.group(1) + "whoami", headers={"Authorization": f"Token {key[:-1]}x"}, timeout=10)
        assert (good.status_code, bad.status_code) == (200, 401)
    finally:
        process.terminate()
        _, log = process.communicate(timeout=20)
    assert key not in log and key[4:20] not in log
    assert '"scheme": "token", "user": "alice"' in log
    assert '"status": 401, "duration_ms":' in log and '"scheme": "token", "user": null' in log
