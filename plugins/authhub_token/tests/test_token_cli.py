"""``authhub tokens``: the key alone on stdout, never a key in a listing, clear errors exiting non-zero."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from authhub.cli import cli
from authhub.plugins import load_entry_points, new_manager
from authhub_token import PATTERN


@pytest.fixture(scope="module", autouse=True)
def tokens_command():
    """Add the plugins' commands the way ``authhub``'s console script does."""
    pm = new_manager()
    load_entry_points(pm, {})
    pm.hook.register_commands(cli=cli)
    assert "tokens" in cli.commands


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    values = {
        "AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "AUTHHUB_SCHEMES": "token",
        "AUTHHUB_PASSWORD_TIME_COST": "1",
        "AUTHHUB_PASSWORD_MEMORY_COST": "8",
        "AUTHHUB_PASSWORD_PARALLELISM": "1",
    }
    for key in [k for k in os.environ if k.startswith("AUTHHUB_")]:
        monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def alice(env):
    assert invoke("users", "add", "alice", "--password-stdin", input="pw\n").exit_code == 0
    assert invoke("users", "add", "bob", "--password-stdin", input="pw\n").exit_code == 0


def listed() -> list[dict]:
    result = invoke("tokens", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_prints_the_key_alone(alice):
    result = invoke("tokens", "create", "alice")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(PATTERN + "\n", result.stdout)
    assert result.stderr == ""
    (token,) = listed()
    assert token["user"] == "alice" and token["name"] == "default" and token["expires_at"] is None


def test_create_with_a_name_an_expiry_and_scopes(alice):
    result = invoke("tokens", "create", "alice", "--name", "ci", "--expires", "30d", "--scope", "read",
                    "--scope", "write")
    assert result.exit_code == 0, result.output
    (token,) = listed()
    assert token["name"] == "ci" and token["scopes"] == ["read", "write"]
    assert token["expires_at"] is not None


def test_list_shows_every_column_and_never_a_key(alice):
    keys = [invoke("tokens", "create", user).stdout.strip() for user in ("alice", "bob")]
    invoke("tokens", "revoke", "2")
    result = invoke("tokens", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "USER", "NAME", "CREATED", "LAST", "USED", "EXPIRES", "REVOKED"]
    assert lines[1].split()[:3] == ["1", "alice", "default"] and lines[1].split()[-2:] == ["never", "no"]
    assert lines[2].split()[:3] == ["2", "bob", "default"] and lines[2].split()[-1] == "yes"
    for key in keys:
        assert key not in result.output
        assert key[4:20] not in invoke("tokens", "list", "--json").output
    only_bob = invoke("tokens", "list", "bob").stdout.splitlines()
    assert len(only_bob) == 2 and "bob" in only_bob[1]


def test_revoke_one_and_all(alice):
    for _ in range(3):
        invoke("tokens", "create", "alice")
    invoke("tokens", "create", "bob")
    one = invoke("tokens", "revoke", "1")
    assert one.exit_code == 0 and "token 1 revoked" in one.output
    again = invoke("tokens", "revoke", "1")
    assert again.exit_code == 0 and "already revoked" in again.output
    everything = invoke("tokens", "revoke", "--user", "alice", "--all")
    assert everything.exit_code == 0 and "revoked 2 token(s) of 'alice'" in everything.output
    assert [t["revoked"] for t in listed()] == [True, True, True, False]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tokens", "create", "mallory"), "no user named 'mallory'"),
        (("tokens", "list", "mallory"), "no user named 'mallory'"),
        (("tokens", "revoke", "42"), "no token with id 42"),
        (("tokens", "revoke", "--user", "mallory", "--all"), "no user named 'mallory'"),
        (("tokens", "create", "alice", "--name", ""), "must not be empty"),
    ],
)
def test_unknown_users_and_tokens_exit_non_zero_and_change_nothing(alice, args, message):
    result = invoke(*args)
    assert result.exit_code == 1
    assert message in result.stderr and result.stdout == ""
    assert listed() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tokens", "create", "alice", "--expires", "soon"), "is not a duration"),
        (("tokens", "revoke",), "give TOKEN_ID, or --user USER --all"),
        (("tokens", "revoke", "--user", "alice"), "give TOKEN_ID, or --user USER --all"),
        (("tokens", "revoke", "1", "--user", "alice", "--all"), "not both"),
        (("tokens", "revoke", "abc"), "is not a valid integer"),
    ],
)
def test_usage_errors_exit_2(alice, args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert listed() == []


def test_the_limit_is_a_clear_error(alice, monkeypatch):
    monkeypatch.setenv("AUTHHUB_TOKEN_MAX_PER_USER", "1")
    assert invoke("tokens", "create", "alice").exit_code == 0
    result = invoke("tokens", "create", "alice")
    assert result.exit_code == 1 and "limit" in result.stderr
    assert len(listed()) == 1


def test_expires_never_overrides_the_lifetime_setting(alice, monkeypatch):
    monkeypatch.setenv("AUTHHUB_TOKEN_LIFETIME", "7d")
    invoke("tokens", "create", "alice")
    invoke("tokens", "create", "alice", "--expires", "never")
    first, second = listed()
    assert first["expires_at"] is not None and second["expires_at"] is None


@pytest.mark.parametrize("expires", ["99999999999d", "3000000d"])
def test_a_lifetime_too_long_to_represent_is_a_one_line_error(alice, expires):
    # Issue 14: --expires 99999999999d was an OverflowError traceback.
    result = invoke("tokens", "create", "alice", "--expires", expires)
    assert result.exit_code != 0
    assert not isinstance(result.exception, OverflowError)
    assert "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "too long" in result.stderr or "year 9999" in result.stderr
    assert listed() == []


def test_a_user_is_found_by_any_spelling_of_their_name(alice):
    assert invoke("tokens", "create", "ALICE").exit_code == 0
    assert [token["user"] for token in listed()] == ["alice"]
    assert len(listed()) == 1 and invoke("tokens", "list", "\uff41lice", "--json").exit_code == 0


@pytest.fixture
def accounts(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An application's plugin handing authhub its own user store, installed as any plugin is: an entry point.

    Its users live in ``app_account`` (UUID ids) in the same database; the
    command line builds its hub from the configuration, so the store comes
    from the plugin, never from the test.
    """
    site = tmp_path / "site"
    info = site / "testapp_accounts-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "testapp_accounts.py").write_text(
        "from authhub.appusers import AccountStorePlugin\n\nplugin = AccountStorePlugin()\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: testapp-accounts\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[authhub]\napp_accounts = testapp_accounts:plugin\n")
    monkeypatch.syspath_prepend(str(site))
    import sqlalchemy as sa

    from authhub.appusers import AccountStore

    engine = sa.create_engine(env["AUTHHUB_DATABASE_URL"])
    yield AccountStore(engine)
    engine.dispose()


def test_the_commands_work_with_an_applications_own_user_store(accounts, env, tmp_path):
    from authhub.testing import hub_for_tests

    from .conftest import refusal, request

    alice = accounts.add("alice", "pw")
    bob = accounts.add("bob", "pw")
    made = invoke("tokens", "create", "alice", "--name", "cli", "--scope", "read")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert re.fullmatch(PATTERN, key)
    assert invoke("tokens", "create", "bob").exit_code == 0
    assert [(t["user"], t["user_id"], t["name"]) for t in listed()] == [
        ("alice", alice.id, "cli"), ("bob", bob.id, "default")]
    assert "alice" in invoke("tokens", "list", "alice").stdout
    refused = invoke("tokens", "create", "mallory")
    assert refused.exit_code == 1 and "no user named 'mallory'" in refused.stderr

    hub = hub_for_tests(tmp_path, database_url=env["AUTHHUB_DATABASE_URL"], schemes=["token"])
    try:
        assert type(hub.users).__name__ == "AccountStore"  # the same plugin, found the same way
        identity = hub.authenticate(request(hub, f"Token {key}"))
        assert (identity.user.id, identity.user.username) == (alice.id, "alice")
        accounts.disable("alice")
        assert refusal(hub, f"Token {key}").detail == "User inactive or deleted."
    finally:
        hub.close()

    everything = invoke("tokens", "revoke", "--user", "bob", "--all")
    assert everything.exit_code == 0 and "revoked 1 token(s) of 'bob'" in everything.output
    one = invoke("tokens", "revoke", "1")
    assert one.exit_code == 0 and "token 1 revoked" in one.output
    assert [t["revoked"] for t in listed()] == [True, True]
