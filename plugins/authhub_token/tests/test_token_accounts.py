"""Tokens with an application's own user store: UUID ids in its own table, changed behind authhub's back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import authhub
import authhub_token
from authhub.appusers import AccountStore, accounts
from authhub_token import TokenError

from .conftest import Statements, listening, refusal, request, scheme_of


@pytest.fixture
def make_accounts_hub(authhub_account_hub):
    def make(**settings):
        settings.setdefault("schemes", ["token"])
        return authhub_account_hub(**settings)

    return make


@pytest.fixture
def hub(make_accounts_hub):
    return make_accounts_hub()


def test_the_hub_uses_the_applications_store_and_reads_the_token_alone(hub):
    assert isinstance(hub.users, AccountStore)
    sql = scheme_of(hub).lookup.sql
    assert "authhub_user" not in sql and "authhub_token.digest" in sql


def test_a_token_for_a_uuid_user_authenticates(hub):
    alice = hub.users.add("alice", "pw")
    new = authhub_token.create_token(hub, "alice", name="ci", scopes=["read"])
    assert (new.token.user_id, new.token.username) == (alice.id, "alice")
    identity = hub.authenticate(request(hub, f"Token {new.key}"))
    assert identity.scheme == "token"
    assert (identity.user.id, identity.user.username) == (alice.id, "alice")
    assert identity.auth.user_id == alice.id and identity.auth.scopes == frozenset({"read"})
    with hub.store.connect() as connection:
        stored = connection.execute(sa.select(authhub_token.Token.__table__.c.user_id)).scalar_one()
    assert stored == alice.id  # the UUID as text


def test_a_request_reads_the_token_then_asks_the_store(make_accounts_hub):
    hub = make_accounts_hub(token={"cache_ttl": 0.0})
    hub.users.add("alice", "pw")
    key = authhub_token.create_token(hub, "alice").key
    statements = Statements(hub)
    hub.authenticate(request(hub, f"Token {key}"))
    selects = statements.selects()
    assert len(selects) == 2
    assert "FROM authhub_token" in selects[0] and "JOIN" not in selects[0]
    assert "app_account" in selects[1]


@pytest.mark.parametrize("cache_ttl", [0.0, 600.0])
def test_disabled_behind_authhubs_back_is_refused_on_the_next_request(make_accounts_hub, cache_ttl):
    hub = make_accounts_hub(token={"cache_ttl": cache_ttl})
    hub.users.add("alice", "pw")
    hub.users.add("bob", "pw")
    listening(hub)
    alices = authhub_token.create_token(hub, "alice").key
    bobs = authhub_token.create_token(hub, "bob").key
    for _ in range(2):  # with the cache on, the second request is a hit
        assert hub.authenticate(request(hub, f"Token {alices}")).user.username == "alice"
    assert len(scheme_of(hub).cache or ()) == (1 if cache_ttl else 0)
    hub.users.disable("alice")  # the application's admin page: authhub is told nothing
    error = refusal(hub, f"Token {alices}")
    assert isinstance(error, authhub.UserInactive)
    assert (error.status_code, error.detail) == (401, "User inactive or deleted.")
    assert hub.authenticate(request(hub, f"Token {bobs}")).user.username == "bob"


def test_with_the_cache_a_hit_reads_the_user_but_not_the_token(make_accounts_hub):
    hub = make_accounts_hub(token={"cache_ttl": 600.0, "last_used_interval": None})
    hub.users.add("alice", "pw")
    listening(hub)
    key = authhub_token.create_token(hub, "alice").key
    statements = Statements(hub)
    hub.authenticate(request(hub, f"Token {key}"))
    statements.clear()
    assert hub.authenticate(request(hub, f"Token {key}")).user.username == "alice"
    (select,) = statements.selects()
    assert "app_account" in select and "authhub_token" not in select


def test_a_user_gone_from_the_store_is_refused_and_listed_as_gone(hub):
    alice = hub.users.add("alice", "pw")
    new = authhub_token.create_token(hub, "alice")
    with hub.store.connect() as connection:
        connection.execute(sa.delete(accounts).where(accounts.c.login == "alice"))
    assert isinstance(refusal(hub, f"Token {new.key}"), authhub.UserInactive)
    (listed,) = authhub_token.list_tokens(hub)
    assert (listed.user_id, listed.username) == (alice.id, None)


def test_list_and_revoke_by_name(make_accounts_hub):
    hub = make_accounts_hub(token={"cache_ttl": 600.0})
    hub.users.add("alice", "pw")
    hub.users.add("bob", "pw")
    listening(hub)
    alices = [authhub_token.create_token(hub, "alice", name=str(n)) for n in range(2)]
    bobs = authhub_token.create_token(hub, "bob")
    for new in (*alices, bobs):
        assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    assert [t.username for t in authhub_token.list_tokens(hub)] == ["alice", "alice", "bob"]
    assert [t.name for t in authhub_token.list_tokens(hub, "bob")] == ["default"]
    assert authhub_token.revoke_token(hub, alices[0].token.id)
    assert refusal(hub, f"Token {alices[0].key}").detail == "Invalid token."  # cached, dropped at once
    assert authhub_token.revoke_user_tokens(hub, "alice") == 1
    assert refusal(hub, f"Token {alices[1].key}").detail == "Invalid token."
    assert hub.authenticate(request(hub, f"Token {bobs.key}")).user.username == "bob"
    for call in (authhub_token.create_token, authhub_token.list_tokens, authhub_token.revoke_user_tokens):
        with pytest.raises(TokenError, match="no user named 'mallory'"):
            call(hub, "mallory")


def test_the_per_user_limit_with_the_applications_store(make_accounts_hub):
    hub = make_accounts_hub(token={"max_per_user": 1})
    hub.users.add("alice", "pw")
    hub.users.add("bob", "pw")
    authhub_token.create_token(hub, "alice")
    with pytest.raises(TokenError, match="already has 1 active tokens"):
        authhub_token.create_token(hub, "alice")
    authhub_token.create_token(hub, "bob")
    assert len(authhub_token.list_tokens(hub)) == 2


def test_auth_headers_for_a_user_of_the_applications_store(hub):
    alice = hub.users.add("alice", "pw")
    headers = hub.auth_headers("token", alice)
    assert hub.authenticate(request(hub, headers["Authorization"])).user.id == alice.id


@pytest.mark.postgres
def test_on_postgres(make_accounts_hub, authhub_postgres_url):
    hub = make_accounts_hub(database_url=authhub_postgres_url, token={"cache_ttl": 600.0})
    alice = hub.users.add("alice", "pw")
    listening(hub)
    key = authhub_token.create_token(hub, "alice").key
    for _ in range(2):
        assert hub.authenticate(request(hub, f"Token {key}")).user.id == alice.id
    hub.users.disable("alice")
    assert isinstance(refusal(hub, f"Token {key}"), authhub.UserInactive)
