"""``authhub oauth ...`` through the installed console script, and the README's walk-through."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

AUTHHUB = str(Path(sys.executable).with_name("authhub"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    environ.update({
        "AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "AUTHHUB_PASSWORD_TIME_COST": "1",
        "AUTHHUB_PASSWORD_MEMORY_COST": "8",
        "AUTHHUB_PASSWORD_PARALLELISM": "1",
    })
    return environ


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUTHHUB, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60,
                          cwd=Path(env["AUTHHUB_DATABASE_URL"].removeprefix("sqlite:///")).parent)


def create(env: dict[str, str], *args: str) -> dict[str, str]:
    result = run(env, "oauth", "clients", "create", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def listed(env: dict[str, str]) -> list[dict[str, object]]:
    result = run(env, "oauth", "clients", "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_create_list_delete(env: dict[str, str], tmp_path: Path) -> None:
    made = create(env, "--name", "Reporting", "--grant-type", "client_credentials", "--scope", "read write")
    assert set(made) == {"client_id", "client_secret"}

    clients = listed(env)
    assert clients == [{"client_id": made["client_id"], "name": "Reporting", "public": False,
                        "grant_types": ["client_credentials"], "redirect_uris": [], "scopes": ["read", "write"],
                        "may_introspect": False}]
    assert made["client_secret"] not in json.dumps(clients)
    assert made["client_secret"].encode() not in (tmp_path / "cli.db").read_bytes()

    result = run(env, "oauth", "clients", "delete", made["client_id"])
    assert result.returncode == 0, result.stderr
    assert listed(env) == []


def test_public_client_has_no_secret(env: dict[str, str]) -> None:
    made = create(env, "--name", "SPA", "--grant-type", "authorization_code", "--redirect-uri",
                  "http://localhost:5173/callback", "--public")
    assert made["client_secret"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["--grant-type", "client_credentials", "--public"], "public client cannot use client_credentials"),
    (["--grant-type", "authorization_code"], "needs at least one --redirect-uri"),
    (["--grant-type", "authorization_code", "--redirect-uri", "http://app.example/cb"], "plain http"),
    (["--grant-type", "authorization_code", "--redirect-uri", "https://app.example/cb#x"], "fragment"),
    (["--grant-type", "authorization_code", "--redirect-uri", "/relative"], "absolute"),
    (["--grant-type", "refresh_token"], "refresh_token needs authorization_code"),
    (["--grant-type", "client_credentials", "--scope", 'bad"scope'], "RFC 6749"),
])
def test_bad_registrations_change_nothing(env: dict[str, str], args: list[str], message: str) -> None:
    result = run(env, "oauth", "clients", "create", "--name", "X", *args)

    assert result.returncode == 1
    assert message in result.stderr
    assert listed(env) == []


def test_unknown_grant_type_is_a_usage_error(env: dict[str, str]) -> None:
    result = run(env, "oauth", "clients", "create", "--name", "X", "--grant-type", "password")
    assert result.returncode == 2
    assert "password" in result.stderr


def test_delete_unknown_client(env: dict[str, str]) -> None:
    result = run(env, "oauth", "clients", "delete", "nope")
    assert result.returncode == 1
    assert "no client with id 'nope'" in result.stderr


def test_tokens_revoke_needs_a_criterion(env: dict[str, str]) -> None:
    result = run(env, "oauth", "tokens", "revoke")
    assert result.returncode == 1
    assert "say which tokens to revoke" in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    """``authhub serve`` as a user starts it."""
    port = free_port()
    process = subprocess.Popen([AUTHHUB, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, cwd=Path(env["AUTHHUB_DATABASE_URL"][10:]).parent)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/whoami", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def test_readme_walkthrough_against_authhub_serve(env: dict[str, str], served: str) -> None:
    made = create(env, "--name", "Reporting", "--grant-type", "client_credentials", "--scope", "read")
    client = OAuth2Session(made["client_id"], made["client_secret"], scope="read")
    client.fetch_token(f"{served}/oauth/token", grant_type="client_credentials")

    assert client.get(f"{served}/whoami").json() == {
        "authenticated": True, "user": f"client:{made['client_id']}", "scheme": "oauth"}

    result = run(env, "oauth", "tokens", "revoke", "--client", made["client_id"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "revoked 1 token(s)"
    assert client.get(f"{served}/whoami").status_code == 401
