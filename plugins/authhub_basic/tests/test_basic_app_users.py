"""Basic against an application's own user store: its own table, string (UUID) ids, changes behind authhub's back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import authhub
from authhub.appusers import AccountStore, accounts
from authhub_basic import BasicScheme

from .conftest import PASSWORD, basic, ready, refusal, request


@pytest.fixture
def make_account_hub(authhub_account_hub: Callable[..., authhub.AuthHub]) -> Callable[..., authhub.AuthHub]:
    def make(**settings: Any) -> authhub.AuthHub:
        settings.setdefault("schemes", ["basic"])
        hub = authhub_account_hub(**settings)
        assert isinstance(hub.users, AccountStore)
        return ready(hub)

    return make


@pytest.fixture(params=[0, 60], ids=["no-cache", "cache"])
def account_hub(request, make_account_hub) -> authhub.AuthHub:
    return make_account_hub(basic={"cache_ttl": request.param})


def counted(hub: authhub.AuthHub, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the calls Basic makes to the application's store."""
    calls = {"check_password": 0, "get": 0}
    store = hub.users
    for name in calls:
        method = getattr(store, name)

        def counting(*args: Any, _name: str = name, _method: Any = method) -> Any:
            calls[_name] += 1
            return _method(*args)

        monkeypatch.setattr(store, name, counting)
    return calls


def test_basic_works_with_string_ids(account_hub):
    alice = account_hub.users.add("alice", PASSWORD)
    for _ in range(2):
        identity = account_hub.authenticate(request(account_hub, basic("alice", PASSWORD)))
        assert identity.user == alice
        assert isinstance(identity.user.id, str)
        assert uuid.UUID(identity.user.id)
        assert (identity.auth, identity.scheme) == (None, "basic")
    assert refusal(account_hub, basic("alice", "wrong")).detail == "Invalid username/password."
    assert refusal(account_hub, basic("mallory", PASSWORD)).detail == "Invalid username/password."


def test_a_deactivation_behind_authhubs_back_refuses_the_next_request(account_hub):
    account_hub.users.add("alice", PASSWORD)
    account_hub.users.add("bob", PASSWORD)
    assert account_hub.authenticate(request(account_hub, basic("alice", PASSWORD))).user.username == "alice"
    assert account_hub.authenticate(request(account_hub, basic("bob", PASSWORD))).user.username == "bob"
    account_hub.users.disable("alice")  # the application's own admin page: authhub is told nothing
    error = refusal(account_hub, basic("alice", PASSWORD))
    assert isinstance(error, authhub.UserInactive)
    assert (error.status_code, error.detail) == (401, "User inactive or deleted.")
    assert refusal(account_hub, basic("alice", PASSWORD)).status_code == 401
    assert account_hub.authenticate(request(account_hub, basic("bob", PASSWORD))).user.username == "bob"


def test_a_cache_hit_skips_the_password_check_but_reads_the_status_every_time(make_account_hub, monkeypatch):
    hub = make_account_hub(basic={"cache_ttl": 60})
    alice = hub.users.add("alice", PASSWORD)
    calls = counted(hub, monkeypatch)
    for _ in range(3):
        assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user == alice
    assert calls == {"check_password": 1, "get": 2}
    hub.users.disable("alice")
    assert refusal(hub, basic("alice", PASSWORD)).detail == "User inactive or deleted."
    assert len(hub.find_scheme(BasicScheme).cache) == 0  # the entry went with the deactivation


def test_a_deleted_account_is_refused_at_once_with_the_cache_on(make_account_hub):
    hub = make_account_hub(basic={"cache_ttl": 60})
    hub.users.add("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    with hub.users.engine.begin() as connection:
        connection.execute(sa.delete(accounts).where(accounts.c.login == "alice"))
    assert refusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."


def test_a_renamed_account_no_longer_answers_to_its_old_name_with_the_cache_on(make_account_hub):
    hub = make_account_hub(basic={"cache_ttl": 60})
    hub.users.add("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    with hub.users.engine.begin() as connection:
        connection.execute(sa.update(accounts).where(accounts.c.login == "alice").values(login="alicia"))
    assert refusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."
    assert hub.authenticate(request(hub, basic("alicia", PASSWORD))).user.username == "alicia"


def test_an_announced_change_drops_the_entry_by_its_string_id(make_account_hub):
    hub = make_account_hub(basic={"cache_ttl": 60})
    alice = hub.users.add("alice", PASSWORD)
    bob = hub.users.add("bob", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    hub.authenticate(request(hub, basic("bob", PASSWORD)))
    cache = hub.find_scheme(BasicScheme).cache
    hub.user_changed(alice)  # what a store that announces its changes calls
    assert len(cache) == 1
    hub.invalidate("user", bob.id)
    assert len(cache) == 0


def test_a_password_changed_behind_authhubs_back_is_the_cache_ttl_trade_off(make_account_hub):
    # The status is read on every request; the password verification is what the cache saves.
    # A store that changes a password without announcing it leaves the old one working in
    # this hub until the entry expires (cache_ttl), exactly as another process would.
    hub = make_account_hub(basic={"cache_ttl": 60})
    alice = hub.users.add("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    with hub.users.engine.begin() as connection:
        connection.execute(sa.update(accounts).where(accounts.c.login == "alice")
                           .values(secret_hash=hub.users.hasher.hash("elsewhere")))
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user == alice
    hub.invalidate("user", alice.id)
    assert refusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."
    assert hub.authenticate(request(hub, basic("alice", "elsewhere"))).user == alice


def test_over_http_with_the_cache_on(make_account_hub, authhub_live_server):
    hub = make_account_hub(basic={"cache_ttl": 60})
    hub.users.add("alice", PASSWORD)
    base = authhub_live_server(hub)
    with httpx.Client(base_url=base, auth=("alice", PASSWORD)) as client:
        assert [client.get("/protected").status_code for _ in range(3)] == [200, 200, 200]
        hub.users.disable("alice")
        response = client.get("/protected")
    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}
    assert response.headers.get_list("www-authenticate") == ['Basic realm="api", charset="UTF-8"']


def test_the_lockout_guards_an_application_store_too(make_account_hub):
    hub = make_account_hub(lockout_backoff_after=3, lockout_threshold=3, lockout_global_threshold=6)
    hub.users.add("alice", PASSWORD)
    for _ in range(3):
        assert refusal(hub, basic("alice", "wrong")).status_code == 401
    assert refusal(hub, basic("alice", PASSWORD)).status_code == 429
