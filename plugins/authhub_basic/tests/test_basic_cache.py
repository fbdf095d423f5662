"""The optional verified-credentials cache."""

from __future__ import annotations

import time

import argon2
import sqlalchemy as sa

import authhub
import authhub_basic
from authhub.users import UserRecord
from authhub_basic import CredentialCache

from .conftest import PASSWORD, basic, refusal, request


def change_hash_behind_the_hubs_back(hub: authhub.AuthHub, username: str, password: str) -> None:
    """What another process does: change the password in the database, no ``user_changed`` here."""
    new_hash = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)
    with hub.store.connect() as connection:
        connection.execute(
            sa.update(UserRecord.__table__).where(UserRecord.__table__.c.username == username)
            .values(password_hash=new_hash)
        )


def cache_of(hub: authhub.AuthHub) -> CredentialCache:
    cache = authhub_basic.scheme_for(hub, hub.settings.section("basic")).cache
    assert cache is not None
    return cache


def test_the_cache_is_off_by_default(hub, alice):
    assert hub.settings.section("basic")["cache_ttl"] == 0
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user == alice
    assert authhub_basic.scheme_for(hub, hub.settings.section("basic")).cache is None
    change_hash_behind_the_hubs_back(hub, "alice", "elsewhere")
    assert refusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."


def test_a_cached_user_skips_the_password_check_until_the_ttl_runs_out(make_hub):
    hub = make_hub(basic={"cache_ttl": 0.5})
    alice = hub.users.create("alice", PASSWORD)
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user == alice
    # Another process changed the password: this one goes on trusting its cache...
    change_hash_behind_the_hubs_back(hub, "alice", "elsewhere")
    identity = hub.authenticate(request(hub, basic("alice", PASSWORD)))
    assert identity.user == alice
    assert identity.auth is None
    # ...until the entry expires, no later.
    time.sleep(0.6)
    assert refusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."
    assert hub.authenticate(request(hub, basic("alice", "elsewhere"))).user == alice


def test_wrong_credentials_are_never_cached(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    hub.users.create("alice", PASSWORD)
    for _ in range(3):
        assert refusal(hub, basic("alice", "wrong")).detail == "Invalid username/password."
    assert len(cache_of(hub)) == 0


def test_only_the_exact_credentials_hit(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    hub.users.create("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    assert refusal(hub, basic("alice", PASSWORD + "x")).detail == "Invalid username/password."
    assert refusal(hub, basic("alice", PASSWORD[:-1])).detail == "Invalid username/password."
    # A non-canonical spelling of the cached token is still refused as malformed.
    token = basic("alice", PASSWORD).split()[1]
    assert refusal(hub, f"Basic {token} x").status_code == 401


def test_a_password_change_in_this_process_drops_the_entry_at_once(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    alice = hub.users.create("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    assert len(cache_of(hub)) == 1
    hub.users.set_password("alice", "new password")
    assert len(cache_of(hub)) == 0
    assert refusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."
    assert hub.authenticate(request(hub, basic("alice", "new password"))).user == alice


def test_deactivation_in_this_process_drops_the_entry_at_once(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    hub.users.create("alice", PASSWORD)
    hub.users.create("bob", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    hub.authenticate(request(hub, basic("bob", PASSWORD)))
    hub.users.deactivate("alice")
    assert len(cache_of(hub)) == 1  # bob's entry stays
    assert refusal(hub, basic("alice", PASSWORD)).detail == "User inactive or deleted."
    assert hub.authenticate(request(hub, basic("bob", PASSWORD))).user.username == "bob"


def test_a_change_through_one_hub_reaches_every_hub_of_the_process(make_hub):
    serving = make_hub(basic={"cache_ttl": 60})
    serving.users.create("alice", PASSWORD)
    serving.authenticate(request(serving, basic("alice", PASSWORD)))
    admin = make_hub()  # the same database, as a management command would open it
    admin.users.set_password("alice", "new password")
    assert refusal(serving, basic("alice", PASSWORD)).detail == "Invalid username/password."


def test_two_hubs_keep_separate_caches(make_hub, tmp_path):
    one = make_hub(basic={"cache_ttl": 60})
    two = make_hub(basic={"cache_ttl": 60}, database_url=f"sqlite:///{tmp_path / 'other.db'}")
    one.users.create("alice", PASSWORD)
    two.users.create("alice", "another password")
    one.authenticate(request(one, basic("alice", PASSWORD)))
    assert cache_of(one) is not cache_of(two)
    assert refusal(two, basic("alice", PASSWORD)).detail == "Invalid username/password."


def test_the_cache_is_bounded(make_hub):
    hub = make_hub(basic={"cache_ttl": 60, "cache_size": 3})
    for index in range(6):
        hub.users.create(f"user{index}", PASSWORD)
        hub.authenticate(request(hub, basic(f"user{index}", PASSWORD)))
    assert len(cache_of(hub)) == 3
    # The newest stay: user5's entry survives a password change made behind the hub's back.
    change_hash_behind_the_hubs_back(hub, "user5", "elsewhere")
    change_hash_behind_the_hubs_back(hub, "user0", "elsewhere")
    assert hub.authenticate(request(hub, basic("user5", PASSWORD))).user.username == "user5"
    assert refusal(hub, basic("user0", PASSWORD)).detail == "Invalid username/password."


def test_the_cache_keeps_no_password_and_its_key_is_per_process_random():
    cache = CredentialCache(60, 10)
    token = basic("alice", PASSWORD).split()[1]
    key = cache.digest(token)
    cache.put(key, authhub.User(1, "alice"), frozenset({"alice"}), cache.generation)
    assert len(key) == 32
    assert PASSWORD.encode() not in key
    assert key != CredentialCache(60, 10).digest(token)
    assert PASSWORD not in repr(cache)
    assert cache.get(key) == authhub.User(1, "alice")


def test_a_verification_overtaken_by_a_password_change_is_not_cached():
    cache = CredentialCache(60, 10)
    generation = cache.generation  # verification starts
    cache.forget("alice")  # the password changes meanwhile
    key = cache.digest("YWxpY2U6b2xk")
    cache.put(key, authhub.User(1, "alice"), frozenset({"alice"}), generation)
    assert cache.get(key) is None
    assert len(cache) == 0


def test_expired_entries_make_room_first():
    cache = CredentialCache(0.05, 2)
    for token in ("a", "b"):
        cache.put(cache.digest(token), token, frozenset({token}), cache.generation)
    time.sleep(0.1)
    cache.put(cache.digest("c"), "c", frozenset({"c"}), cache.generation)
    assert len(cache) == 1
    assert cache.get(cache.digest("c")) == "c"
    assert cache.get(cache.digest("a")) is None


def test_forget_drops_only_that_users_entries(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    hub.users.create("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    cache_of(hub).forget("someone else")
    assert len(cache_of(hub)) == 1
    cache_of(hub).forget("alice")
    assert len(cache_of(hub)) == 0


def test_new_settings_mean_a_new_cache(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    hub.users.create("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    first = cache_of(hub)
    hub.register(object(), "inert")  # re-reads the configuration
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    assert cache_of(hub) is not first
