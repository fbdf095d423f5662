"""The Python API: several named tokens, a per-user limit, scopes, expiry, revocation."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

import authhub_token
from authhub_token import TokenError

from .conftest import refusal, request

HOUR = dt.timedelta(hours=1)


def rows(hub):
    with hub.store.connect() as connection:
        return connection.execute(sa.select(authhub_token.Token.__table__)).all()


def test_several_named_tokens_per_user_each_authenticating(hub, alice):
    ci = authhub_token.create_token(hub, "alice", name="ci")
    laptop = authhub_token.create_token(hub, "alice", name="laptop")
    assert ci.key != laptop.key
    assert hub.authenticate(request(hub, f"Token {ci.key}")).auth.name == "ci"
    assert hub.authenticate(request(hub, f"Token {laptop.key}")).auth.name == "laptop"
    assert [t.name for t in authhub_token.list_tokens(hub, "alice")] == ["ci", "laptop"]


def test_the_key_exists_only_once_and_is_never_stored_or_shown(hub, alice):
    new = authhub_token.create_token(hub, "alice")
    assert new.key not in repr(new)
    stored = rows(hub)
    assert len(stored) == 1
    assert all(new.key not in str(value) for value in stored[0])
    assert stored[0].digest != new.key.encode()
    listed = authhub_token.list_tokens(hub)[0]
    assert not hasattr(listed, "key") and not hasattr(listed, "digest")
    assert new.key not in repr(listed) and new.key not in str(listed.as_json())


def test_the_per_user_limit_counts_live_tokens(make_hub):
    hub = make_hub(token={"max_per_user": 2})
    hub.users.create("alice", "pw")
    hub.users.create("bob", "pw")
    first = authhub_token.create_token(hub, "alice", name="one")
    authhub_token.create_token(hub, "alice", name="two")
    with pytest.raises(TokenError, match=r"already has 2 active tokens.*max_per_user"):
        authhub_token.create_token(hub, "alice", name="three")
    assert len(rows(hub)) == 2  # nothing changed
    authhub_token.create_token(hub, "bob")  # the limit is per user
    authhub_token.revoke_token(hub, first.token.id)
    authhub_token.create_token(hub, "alice", name="three")  # a revoked token no longer counts
    assert len(authhub_token.list_tokens(hub, "alice")) == 3


def test_scopes_are_readable_from_request_auth(hub, alice):
    new = authhub_token.create_token(hub, "alice", scopes=["read", "write", "read"])
    auth = hub.authenticate(request(hub, f"Token {new.key}")).auth
    assert auth.scopes == frozenset({"read", "write"})
    assert auth.has_scope("write") and not auth.has_scope("admin")
    plain = authhub_token.create_token(hub, "alice")
    assert hub.authenticate(request(hub, f"Token {plain.key}")).auth.scopes == frozenset()


@pytest.mark.parametrize("scopes", [["has space"], [""], "read"])
def test_bad_scopes_are_refused(hub, alice, scopes):
    with pytest.raises(TokenError):
        authhub_token.create_token(hub, "alice", scopes=scopes)
    assert rows(hub) == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "bad\nname"])
def test_bad_names_are_refused(hub, alice, name):
    with pytest.raises(TokenError):
        authhub_token.create_token(hub, "alice", name=name)
    assert rows(hub) == []


def test_an_unknown_user_is_a_clear_error(hub, alice):
    with pytest.raises(TokenError, match="no user named 'mallory'"):
        authhub_token.create_token(hub, "mallory")
    with pytest.raises(TokenError, match="no user named 'mallory'"):
        authhub_token.list_tokens(hub, "mallory")
    with pytest.raises(TokenError, match="no user named 'mallory'"):
        authhub_token.revoke_user_tokens(hub, "mallory")
    with pytest.raises(TokenError, match="no token with id 999"):
        authhub_token.revoke_token(hub, 999)
    assert rows(hub) == []


def test_an_expired_token_is_an_invalid_token(hub, alice):
    new = authhub_token.create_token(hub, "alice", expires_in=HOUR)
    identity = hub.authenticate(request(hub, f"Token {new.key}"))
    assert identity.auth.expires_at == new.token.expires_at
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    with hub.store.connect() as connection:
        connection.execute(sa.update(authhub_token.Token.__table__).values(expires_at=past))
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."


def test_a_token_expires_by_itself(hub, alice):
    import time

    new = authhub_token.create_token(hub, "alice", expires_in=dt.timedelta(seconds=1))
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    time.sleep(1.1)
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."


def test_the_default_lifetime_setting(make_hub):
    hub = make_hub(token={"lifetime": "30d"})
    hub.users.create("alice", "pw")
    before = dt.datetime.now(dt.timezone.utc)
    new = authhub_token.create_token(hub, "alice")
    assert before + dt.timedelta(days=30) <= new.token.expires_at <= before + dt.timedelta(days=30, minutes=1)
    forever = authhub_token.create_token(hub, "alice", expires_in=None)
    assert forever.token.expires_at is None
    assert authhub_token.create_token(hub, "alice", expires_in=HOUR).token.expires_at < before + 2 * HOUR


def test_no_lifetime_means_never(hub, alice):
    assert authhub_token.create_token(hub, "alice").token.expires_at is None


@pytest.mark.parametrize("lifetime", ["30", "soon", "0d", "-1d"])
def test_a_bad_lifetime_setting_is_a_configuration_error(make_hub, lifetime):
    import authhub

    # Checked once, when the hub is built (a hub never changes afterwards).
    with pytest.raises(authhub.ConfigurationError, match="token.lifetime"):
        make_hub(token={"lifetime": lifetime})


def test_revoke_one(hub, alice):
    keep = authhub_token.create_token(hub, "alice", name="keep")
    drop = authhub_token.create_token(hub, "alice", name="drop")
    assert authhub_token.revoke_token(hub, drop.token.id) is True
    assert authhub_token.revoke_token(hub, drop.token.id) is False  # already revoked: said, not an error
    assert refusal(hub, f"Token {drop.key}").detail == "Invalid token."
    assert hub.authenticate(request(hub, f"Token {keep.key}")).auth.name == "keep"
    assert [(t.name, t.revoked) for t in authhub_token.list_tokens(hub)] == [("keep", False), ("drop", True)]


def test_revoke_all_of_a_user(hub, alice):
    hub.users.create("bob", "pw")
    alices = [authhub_token.create_token(hub, "alice", name=str(n)) for n in range(3)]
    bobs = authhub_token.create_token(hub, "bob")
    authhub_token.revoke_token(hub, alices[0].token.id)
    assert authhub_token.revoke_user_tokens(hub, "alice") == 2
    for new in alices:
        assert refusal(hub, f"Token {new.key}").detail == "Invalid token."
    assert hub.authenticate(request(hub, f"Token {bobs.key}")).user.username == "bob"
    assert authhub_token.revoke_user_tokens(hub, "alice") == 0


def test_the_auth_headers_hook_makes_working_credentials(hub, authhub_user, authhub_auth_headers):
    carol = authhub_user("carol", hub=hub)
    headers = authhub_auth_headers(carol, "token")
    assert set(headers) == {"Authorization"} and headers["Authorization"].startswith("Token ahk_")
    assert hub.authenticate(request(hub, headers["Authorization"])).user.username == "carol"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_per_user_limit_holds_against_concurrent_creations(make_hub, request, backend):
    import threading

    import authhub

    settings = {"token": {"max_per_user": 2}}
    if backend == "postgresql":
        settings["database_url"] = request.getfixturevalue("authhub_postgres_url")
    hub = make_hub(**settings)
    hub.users.create("alice", "pw")
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            authhub_token.create_token(hub, "alice")
            outcomes.append("created")
        except TokenError:
            outcomes.append("limit")
        except authhub.StoreUnavailable:  # SQLite's writer lock timing out: refused, nothing written
            outcomes.append("busy")

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("created") == 2 and len(outcomes) == 6
    assert len(authhub_token.list_tokens(hub, "alice")) == 2
