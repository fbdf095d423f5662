"""The optional verified-credentials cache."""

from __future__ import annotations

import time

import argon2
import pytest
import sqlalchemy as sa

import authhub
from authhub.users import UserRecord
from authhub_basic import BasicScheme

from .conftest import PASSWORD, basic, refusal, request


def change_hash_behind_the_hubs_back(hub: authhub.AuthHub, username: str, password: str) -> None:
    """What another process does: change the password in the database, no ``user_changed`` here."""
    new_hash = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)
    with hub.store.connect() as connection:
        connection.execute(
            sa.update(UserRecord.__table__).where(UserRecord.__table__.c.username == username)
            .values(password_hash=new_hash)
        )


def cache_of(hub: authhub.AuthHub) -> authhub.TTLCache:
    cache = hub.find_scheme(BasicScheme).cache
    assert cache is not None
    return cache


def test_the_cache_is_off_by_default(hub, alice):
    assert hub.settings.section("basic")["cache_ttl"] == 0
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user == alice
    assert hub.find_scheme(BasicScheme).cache is None
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


def wait_until_empty(cache: authhub.TTLCache, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(cache):
        assert time.monotonic() < deadline, "the announcement did not arrive"
        time.sleep(0.005)


def test_a_change_through_one_hub_reaches_every_hub_on_the_store(make_hub):
    serving = make_hub(basic={"cache_ttl": 60})
    alice = serving.users.create("alice", PASSWORD)
    serving.authenticate(request(serving, basic("alice", PASSWORD)))
    admin = make_hub()  # the same database, as a management command would open it (here or in another process)
    admin.users.set_password("alice", "new password")
    wait_until_empty(cache_of(serving))  # the invalidation channel: milliseconds
    assert refusal(serving, basic("alice", PASSWORD)).detail == "Invalid username/password."
    assert serving.authenticate(request(serving, basic("alice", "new password"))).user == alice


@pytest.mark.postgres
def test_a_change_through_another_hub_reaches_this_one_on_postgresql(make_hub, authhub_postgres_url):
    serving = make_hub(basic={"cache_ttl": 60}, database_url=authhub_postgres_url)
    serving.users.create("alice", PASSWORD)
    serving.authenticate(request(serving, basic("alice", PASSWORD)))
    admin = make_hub(database_url=authhub_postgres_url)
    admin.users.set_password("alice", "new password")
    wait_until_empty(cache_of(serving))  # LISTEN/NOTIFY
    assert refusal(serving, basic("alice", PASSWORD)).detail == "Invalid username/password."


def test_a_deactivation_through_another_hub_reaches_this_one(make_hub):
    serving = make_hub(basic={"cache_ttl": 60})
    serving.users.create("alice", PASSWORD)
    serving.authenticate(request(serving, basic("alice", PASSWORD)))
    make_hub().users.deactivate("alice")
    wait_until_empty(cache_of(serving))
    assert refusal(serving, basic("alice", PASSWORD)).detail == "User inactive or deleted."


def test_the_cache_is_bypassed_while_the_invalidation_channel_is_not_current(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    alice = hub.users.create("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    hub.changes.close()  # the listener stops: announcements from elsewhere could be missed
    assert not hub.changes.current
    change_hash_behind_the_hubs_back(hub, "alice", "elsewhere")
    # Fail closed: the store is asked, as without a cache, and nothing new is cached.
    assert refusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."
    assert hub.authenticate(request(hub, basic("alice", "elsewhere"))).user == alice
    assert len(cache_of(hub)) == 1  # only the entry from before, unused


def test_a_gap_in_the_channel_drops_every_entry(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    for name in ("alice", "bob"):
        hub.users.create(name, PASSWORD)
        hub.authenticate(request(hub, basic(name, PASSWORD)))
    assert len(cache_of(hub)) == 2
    hub.invalidate("*", "*")  # what the channel says when it cannot replay everything it missed
    assert len(cache_of(hub)) == 0


def test_two_hubs_keep_separate_caches(make_hub, tmp_path):
    one = make_hub(basic={"cache_ttl": 60})
    two = make_hub(basic={"cache_ttl": 60}, database_url=f"sqlite:///{tmp_path / 'other.db'}")
    alice_one = one.users.create("alice", PASSWORD)
    alice_two = two.users.create("alice", "another password")
    one.authenticate(request(one, basic("alice", PASSWORD)))
    assert cache_of(one) is not cache_of(two)
    assert (len(cache_of(one)), len(cache_of(two))) == (1, 0)
    assert refusal(two, basic("alice", PASSWORD)).detail == "Invalid username/password."
    two.authenticate(request(two, basic("alice", "another password")))
    assert (len(cache_of(one)), len(cache_of(two))) == (1, 1)
    # Both users have the id 1: an announcement to one hub leaves the other's cache alone.
    assert str(alice_one.id) == str(alice_two.id)
    two.invalidate("user", str(alice_two.id))
    assert (len(cache_of(one)), len(cache_of(two))) == (1, 0)


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


def test_the_cache_keeps_no_password_and_its_key_is_random_per_hub(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    alice = hub.users.create("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    scheme = hub.find_scheme(BasicScheme)
    token = basic("alice", PASSWORD).split()[1]
    key = scheme.digest(token)
    assert len(key) == 32
    assert PASSWORD.encode() not in key
    assert token.encode() not in key
    assert key != make_hub(basic={"cache_ttl": 60}).find_scheme(BasicScheme).digest(token)
    assert PASSWORD not in repr(scheme.cache)
    assert PASSWORD not in repr(scheme)
    assert scheme.cache.get(key) == alice
    # What is kept: the digest and the user, nothing else.
    assert [(stored, value) for stored, (_, value) in scheme.cache._entries.items()] == [(key, alice)]


class OvertakingStore(authhub.SQLUserStore):
    """The built-in store, with a password change announced while a verification is running."""

    def __init__(self, hub: authhub.AuthHub) -> None:
        super().__init__(hub)
        self.hub = hub

    def check_password(self, username: str, password: str) -> authhub.User:
        user = super().check_password(username, password)
        self.hub.invalidate("user", str(user.id))  # another thread changed the password meanwhile
        return user


class Overtaking:
    @authhub.hookimpl
    def user_store(self, hub: authhub.AuthHub) -> OvertakingStore:
        return OvertakingStore(hub)


def test_a_verification_overtaken_by_a_password_change_is_not_cached(make_hub):
    hub = make_hub(basic={"cache_ttl": 60}, plugins={"overtaking": Overtaking()})
    alice = hub.users.create("alice", PASSWORD)
    assert isinstance(hub.users, OvertakingStore)
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user == alice  # verified before the change
    assert len(cache_of(hub)) == 0


def test_expired_entries_are_never_answered_and_make_room_first(make_hub):
    hub = make_hub(basic={"cache_ttl": 1.0, "cache_size": 2})
    for name in ("old1", "old2", "new"):
        hub.users.create(name, PASSWORD)
    for name in ("old1", "old2"):
        hub.authenticate(request(hub, basic(name, PASSWORD)))
    time.sleep(1.1)
    hub.authenticate(request(hub, basic("new", PASSWORD)))
    assert len(cache_of(hub)) <= 2
    for name in ("old1", "old2", "new"):
        change_hash_behind_the_hubs_back(hub, name, "elsewhere")
    assert refusal(hub, basic("old1", PASSWORD)).detail == "Invalid username/password."
    assert refusal(hub, basic("old2", PASSWORD)).detail == "Invalid username/password."
    # The fresh entry was kept when it came in, and still answers.
    assert hub.authenticate(request(hub, basic("new", PASSWORD))).user.username == "new"


def test_an_invalidation_drops_only_that_users_entries(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    alice = hub.users.create("alice", PASSWORD)
    hub.users.create("bob", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    hub.authenticate(request(hub, basic("bob", PASSWORD)))
    hub.invalidate("user", "someone else")
    assert len(cache_of(hub)) == 2
    hub.invalidate("token", str(alice.id))  # another kind of thing with the same key
    assert len(cache_of(hub)) == 2
    hub.invalidate("user", str(alice.id))
    assert len(cache_of(hub)) == 1
    change_hash_behind_the_hubs_back(hub, "bob", "elsewhere")
    assert hub.authenticate(request(hub, basic("bob", PASSWORD))).user.username == "bob"


def test_new_settings_mean_a_new_hub_with_its_own_cache(make_hub):
    hub = make_hub(basic={"cache_ttl": 60})
    hub.users.create("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    first = cache_of(hub)
    other = make_hub(basic={"cache_ttl": 30})  # a different configuration is a new hub
    other.authenticate(request(other, basic("alice", PASSWORD)))
    assert cache_of(other) is not first
    assert (cache_of(other).ttl, first.ttl) == (30, 60)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    assert cache_of(hub) is first  # a hub never changes once built
