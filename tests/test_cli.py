"""The command line, through click's runner and as a real process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from authhub.cli import cli


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Run in a fresh directory with its own SQLite database and cheap hashing."""
    monkeypatch.chdir(tmp_path)
    values = {
        "AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "AUTHHUB_PASSWORD_TIME_COST": "1",
        "AUTHHUB_PASSWORD_MEMORY_COST": "8",
        "AUTHHUB_PASSWORD_PARALLELISM": "1",
    }
    for key in [k for k in os.environ if k.startswith("AUTHHUB_")]:
        monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def invoke(*args: str, input: str | None = None) -> CliRunner.invoke:
    return CliRunner().invoke(cli, list(args), input=input)


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.startswith("authhub, version ")


def test_users_lifecycle(env):
    added = invoke("users", "add", "alice", "--password-stdin", input="pa:ss wörd\n")
    assert added.exit_code == 0, added.output
    assert "added user 'alice'" in added.output

    again = invoke("users", "add", "alice", "--password-stdin", input="other\n")
    assert again.exit_code == 1
    assert "user 'alice' already exists" in again.output

    listed = invoke("users", "list", "--json")
    assert json.loads(listed.output) == [{"id": 1, "username": "alice", "is_active": True}]

    changed = invoke("users", "set-password", "alice", "--password-stdin", input="new\n")
    assert changed.exit_code == 0

    from authhub.testing import hub_for_tests

    hub = hub_for_tests(Path.cwd(), database_url=env["AUTHHUB_DATABASE_URL"], load_entry_points=False)
    assert hub.users.check_password("alice", "new").username == "alice"

    deactivated = invoke("users", "deactivate", "alice")
    assert deactivated.exit_code == 0
    assert json.loads(invoke("users", "list", "--json").output)[0]["is_active"] is False


def test_hidden_prompt_asks_twice(env):
    result = invoke("users", "add", "bob", input="pw\npw\n")
    assert result.exit_code == 0, result.output
    mismatch = invoke("users", "add", "carol", input="pw\nother\npw\npw\n")
    assert mismatch.exit_code == 0
    assert "do not match" in mismatch.output.lower()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "deactivate", "ghost"), "no user named 'ghost'"),
        (("users", "set-password", "ghost", "--password-stdin"), "no user named 'ghost'"),
        (("users", "add", "bad:name", "--password-stdin"), "must not contain ':'"),
        (("users", "add", "emptypw", "--password-stdin"), "password must not be empty"),
    ],
)
def test_bad_input_exits_non_zero_and_changes_nothing(env, args, message):
    result = invoke(*args, input="\n")
    assert result.exit_code != 0
    assert message in result.output
    assert json.loads(invoke("users", "list", "--json").output) == []


def test_db_upgrade_twice(env):
    first = invoke("db", "upgrade")
    assert first.exit_code == 0 and first.stdout.startswith("applied: authhub_0001 ")
    assert f"database sqlite:///{env['AUTHHUB_DATABASE_URL'].removeprefix('sqlite:///')} is up to date" in first.stderr
    invoke("users", "add", "dora", "--password-stdin", input="pw\n")
    second = invoke("db", "upgrade")
    assert second.exit_code == 0
    assert second.stdout == "already up to date\n"
    assert [u["username"] for u in json.loads(invoke("users", "list", "--json").output)] == ["dora"]


def test_check(env, monkeypatch):
    not_created = invoke("check")
    assert not_created.exit_code == 1
    assert "no database at " in not_created.output and "run 'authhub db upgrade'" in not_created.output
    invoke("db", "upgrade")
    ok = invoke("check")
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("ok:")

    monkeypatch.setenv("AUTHHUB_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    down = invoke("check")
    assert down.exit_code == 1
    assert "connection refused by 127.0.0.1:1: is the database server running there?" in down.output

    monkeypatch.setenv("AUTHHUB_SCHEMES", "nonexistent")
    misconfigured = invoke("check")
    assert misconfigured.exit_code == 1
    assert "'nonexistent' is configured but not installed" in misconfigured.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_as_a_real_process(env, tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "authhub", "serve", "--port", str(port)],
        env={**os.environ, **env, "AUTHHUB_SCHEMES": ""},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/whoami", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json() == {"authenticated": False, "user": None, "scheme": None}
        protected = httpx.get(f"http://127.0.0.1:{port}/protected")
        # 403 when no installed scheme has a challenge (the core alone), else 401.
        assert protected.status_code in (401, 403)
        assert protected.json() == {"detail": "Authentication credentials were not provided."}
        assert (tmp_path / "cli.db").exists()  # tables created on start
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_stops_on_sigterm_with_status_0(env, tmp_path):
    """`kill $SERVER; wait $SERVER` (the README's restart) succeeds, as it does with --workers N."""
    process = subprocess.Popen(
        [sys.executable, "-m", "authhub", "serve", "--port", "0", "--access-log", "off"],
        env={**os.environ, **env, "AUTHHUB_SCHEMES": ""},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        announced = process.stderr.readline()
        assert " serving http://127.0.0.1:" in announced, announced
        base = announced.split(" serving ", 1)[1].split()[0]
        assert httpx.get(f"{base}whoami", timeout=10).status_code == 200
        process.terminate()
        assert process.wait(timeout=20) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_refuses_a_misconfigured_chain(env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "authhub", "serve", "--port", "0"],
        env={**os.environ, **env, "AUTHHUB_SCHEMES": "missing"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "'missing' is configured but not installed" in result.stderr
