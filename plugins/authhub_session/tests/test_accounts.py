"""Sessions for users of an application's own store (``app_account``, string UUID ids), on every store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import click
import httpx
import pytest

import authhub
import authhub_session
from authhub.cli import cli
from authhub_session.cli import sessions_group
from authhub_session.stores import SQLSessionStore

from .conftest import PASSWORD, get, session_headers, sessions_of, sign_in


@pytest.fixture
def account_hub(make_account_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    hub = make_account_hub()
    hub.users.add("alice", PASSWORD)
    return hub


@pytest.fixture
def client(account_hub: authhub.AuthHub, authhub_live_server: Callable[[authhub.AuthHub], str]) -> Iterator[Any]:
    with httpx.Client(base_url=authhub_live_server(account_hub), follow_redirects=False, timeout=10) as client:
        yield client


def test_sessions_refer_to_the_stores_own_ids(account_hub: authhub.AuthHub, store_kind: str) -> None:
    alice = account_hub.users.get_by_username("alice")
    assert isinstance(alice.id, str) and len(alice.id) == 36
    store = sessions_of(account_hub).store
    if store_kind != "redis":
        assert isinstance(store, SQLSessionStore) and not store._join_users  # no authhub_user to join
    session_id, session = sessions_of(account_hub).start(alice)
    assert sessions_of(account_hub).find(session_id).user_id == session.user_id == alice.id


def test_login_through_the_form_then_disable_behind_authhubs_back(
    account_hub: authhub.AuthHub, client: httpx.Client
) -> None:
    response = sign_in(client)
    assert response.status_code == 303
    session_id = client.cookies["authhub_session"]
    assert client.get("/whoami").json() == {"authenticated": True, "user": "alice", "scheme": "session"}
    assert '<strong id="username">alice</strong>' in client.get("/").text

    account_hub.users.disable("alice")  # the application's own admin page: authhub is not told

    refused = client.get("/whoami")
    assert refused.status_code == 403  # no challenge from a session-only chain
    assert refused.json() == {"detail": "User inactive or deleted."}
    cleared = [line for line in refused.headers.get_list("set-cookie") if line.startswith("authhub_session=")]
    assert len(cleared) == 1 and cleared[0].startswith("authhub_session=; Max-Age=0")
    assert "authhub_session" not in client.cookies
    assert sessions_of(account_hub).find(session_id) is None  # the session ended


def test_a_disabled_account_cannot_log_in(account_hub: authhub.AuthHub, client: httpx.Client) -> None:
    account_hub.users.disable("alice")
    response = sign_in(client)
    assert response.status_code == 200
    assert "User inactive or deleted." in response.text
    assert "authhub_session" not in client.cookies


def test_logout_all_and_csrf_with_an_account_user(account_hub: authhub.AuthHub) -> None:
    alice = account_hub.users.get_by_username("alice")
    headers = session_headers(account_hub, alice)
    unsafe = get(account_hub, method="POST", cookie=headers["Cookie"],
                 headers={"x-csrf-token": headers["X-CSRF-Token"]})
    assert unsafe.identity.user == alice
    assert authhub_session.logout_all(account_hub, alice) == 1
    assert get(account_hub, cookie=headers["Cookie"]).identity.is_authenticated is False


def run_command(hub: authhub.AuthHub, *args: str) -> None:
    """Run ``authhub <args>`` in this process on ``hub`` (the one ``pass_hub`` hands the command)."""
    group = click.Group("authhub", commands={**cli.commands, "sessions": sessions_group})
    with group.make_context("authhub", list(args)) as context:
        context.meta["authhub.hub"] = hub
        group.invoke(context)


def test_sessions_commands_with_an_account_store(
    account_hub: authhub.AuthHub, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = account_hub.users.get_by_username("alice")
    cookies = [session_headers(account_hub, alice)["Cookie"] for _ in range(2)]

    run_command(account_hub, "sessions", "purge")
    assert capsys.readouterr().out.strip() == "purged 0 expired sessions"
    run_command(account_hub, "sessions", "end", "alice")
    assert capsys.readouterr().out.strip() == "ended 2 sessions of 'alice'"
    assert not any(get(account_hub, cookie=cookie).identity.is_authenticated for cookie in cookies)
    with pytest.raises(click.ClickException, match="no user named 'nobody'"):
        run_command(account_hub, "sessions", "end", "nobody")
