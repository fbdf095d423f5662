"""The in-process cache: on by default, bounded, never past expires_at, emptied by every revocation, in every hub."""

from __future__ import annotations

import datetime as dt
import time

import pytest

import authhub
import authhub_token

from .conftest import Statements, listening, refusal, refused_within, request, scheme_of


def cache_of(hub):
    return scheme_of(hub).cache


def test_the_cache_is_on_by_default(hub, alice):
    cache = cache_of(hub)
    assert isinstance(cache, authhub.TTLCache)
    assert (cache.ttl, cache.size) == (60.0, 10_000)
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    hub.authenticate(request(hub, f"Token {new.key}"))
    assert len(cache) == 1


@pytest.mark.parametrize("section", [{"cache_ttl": 0.0}, {"cache_size": 0}])
def test_a_setting_turns_the_cache_off(make_hub, section):
    hub = make_hub(token=section)
    hub.users.create("alice", "pw")
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    statements = Statements(hub)
    for _ in range(2):
        assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    assert cache_of(hub) is None
    assert len(statements.selects()) == 2  # every request asks the database


def test_a_cached_token_skips_the_database(hub, alice):
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    statements = Statements(hub)
    first = hub.authenticate(request(hub, f"Token {new.key}"))
    assert len(statements.selects()) == 1
    statements.clear()
    second = hub.authenticate(request(hub, f"Token {new.key}"))
    assert statements.seen == []
    assert second.user == first.user and second.auth is first.auth


def test_the_cache_is_bounded(make_hub):
    hub = make_hub(token={"cache_size": 2})
    hub.users.create("alice", "pw")
    listening(hub)
    keys = [authhub_token.create_token(hub, "alice", name=str(n)).key for n in range(5)]
    for key in keys:
        hub.authenticate(request(hub, f"Token {key}"))
    assert len(cache_of(hub)) == 2


def test_revocation_in_this_process_empties_the_cache_at_once(make_hub):
    hub = make_hub(token={"cache_ttl": 600.0})
    hub.users.create("alice", "pw")
    listening(hub)
    one = authhub_token.create_token(hub, "alice", name="one")
    two = authhub_token.create_token(hub, "alice", name="two")
    for new in (one, two):
        hub.authenticate(request(hub, f"Token {new.key}"))
    assert len(cache_of(hub)) == 2
    authhub_token.revoke_token(hub, one.token.id)
    assert refusal(hub, f"Token {one.key}").detail == "Invalid token."  # the very next request
    assert hub.authenticate(request(hub, f"Token {two.key}")).is_authenticated
    authhub_token.revoke_user_tokens(hub, "alice")
    assert refusal(hub, f"Token {two.key}").detail == "Invalid token."


def test_two_hubs_keep_separate_caches_and_the_other_hub_is_told_through_the_channel(make_hub, shared_store):
    serving = make_hub(token={"cache_ttl": 600.0}, **shared_store)
    managing = make_hub(token={"cache_ttl": 600.0}, **shared_store)  # the same database
    serving.users.create("alice", "pw")
    listening(serving, managing)
    new = authhub_token.create_token(managing, "alice")
    for hub in (serving, managing):
        assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    assert cache_of(serving) is not cache_of(managing)
    assert len(cache_of(serving)) == len(cache_of(managing)) == 1
    authhub_token.revoke_token(managing, new.token.id)
    assert len(cache_of(managing)) == 0  # the revoking hub at once
    assert refusal(managing, f"Token {new.key}").detail == "Invalid token."
    # the other hub through the invalidation channel, long before cache_ttl
    assert refused_within(serving, f"Token {new.key}").detail == "Invalid token."
    assert len(cache_of(serving)) == 0


def test_an_invalidation_announced_on_a_hub_reaches_its_cache(make_hub):
    hub = make_hub(token={"cache_ttl": 600.0})
    hub.users.create("alice", "pw")
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    with hub.store.connect() as connection:  # revoked behind authhub's back: nobody is told...
        connection.execute(authhub_token.Token.__table__.update().values(revoked=True))
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated  # ...so the cache still answers
    hub.invalidate("token", str(new.token.id))  # until the change is announced
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."


def test_invalidating_a_user_drops_only_that_users_tokens(hub):
    alice = hub.users.create("alice", "pw")
    hub.users.create("bob", "pw")
    listening(hub)
    keys = [authhub_token.create_token(hub, name).key for name in ("alice", "alice", "bob")]
    for key in keys:
        hub.authenticate(request(hub, f"Token {key}"))
    assert len(cache_of(hub)) == 3
    hub.invalidate("user", str(alice.id))
    assert len(cache_of(hub)) == 1
    hub.invalidate("token", "999")
    assert len(cache_of(hub)) == 1
    hub.invalidate("*", "*")  # the channel lost track: everything goes
    assert len(cache_of(hub)) == 0


def test_deactivating_the_user_empties_the_cache(hub):
    hub.users.create("alice", "pw")
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    hub.authenticate(request(hub, f"Token {new.key}"))
    assert len(cache_of(hub)) == 1
    hub.users.deactivate("alice")
    assert refusal(hub, f"Token {new.key}").detail == "User inactive or deleted."


def test_a_cached_token_never_outlives_its_expiry(make_hub):
    hub = make_hub(token={"cache_ttl": 600.0})
    hub.users.create("alice", "pw")
    listening(hub)
    new = authhub_token.create_token(hub, "alice", expires_in=dt.timedelta(seconds=1))
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    assert len(cache_of(hub)) == 1
    time.sleep(1.1)
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."


def test_a_change_nobody_announces_lives_at_most_cache_ttl(make_hub):
    # Written straight into the table, behind authhub's back: no hub is told, the TTL is the safety net.
    hub = make_hub(token={"cache_ttl": 0.5})
    hub.users.create("alice", "pw")
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    with hub.store.connect() as connection:
        connection.execute(authhub_token.Token.__table__.update().values(revoked=True))
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated  # still cached...
    time.sleep(0.6)
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."  # ...for at most cache_ttl


def test_with_the_cache_off_a_change_nobody_announces_is_seen_on_the_next_request(make_hub):
    hub = make_hub(token={"cache_ttl": 0.0})
    hub.users.create("alice", "pw")
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    with hub.store.connect() as connection:
        connection.execute(authhub_token.Token.__table__.update().values(revoked=True))
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."


def test_the_cache_is_not_used_before_the_channel_is_current(hub, alice):
    new = authhub_token.create_token(hub, "alice")
    hub.changes.close()  # the listener stops: never current again
    statements = Statements(hub)
    for _ in range(3):
        assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    assert len(statements.selects()) == 3 and len(cache_of(hub)) == 0  # no get, no put


def test_cache_entries_expire_drop_oldest_and_ignore_answers_read_before_an_invalidation():
    # What the scheme relies on, in the core's TTLCache it now uses.
    cache: authhub.TTLCache[bytes, tuple[str, int]] = authhub.TTLCache(ttl=10.0, size=2)
    cache.put(b"a", ("alice", 1), cache.generation, now=100.0)
    assert cache.get(b"a", now=109.9) == ("alice", 1)
    assert cache.get(b"a", now=110.0) is None
    cache.put(b"b", ("bob", 2), cache.generation, now=100.0, expires_at=103.0)
    assert cache.get(b"b", now=102.9) is not None and cache.get(b"b", now=103.0) is None
    stale = cache.generation
    cache.discard(lambda answer: False)
    cache.put(b"c", ("carol", 3), stale, now=100.0)
    assert cache.get(b"c", now=100.0) is None
    for name in (b"d", b"e", b"f"):
        cache.put(name, (name.decode(), 0), cache.generation, now=100.0)
    assert len(cache) == 2 and cache.get(b"d", now=100.0) is None and cache.get(b"f", now=100.0) is not None


def test_a_revocation_between_the_read_and_the_put_is_not_lost(hub):
    # The generation is read before the database: an answer read before a revocation is never cached.
    hub.users.create("alice", "pw")
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    scheme = scheme_of(hub)
    read = scheme.lookup.read.fetch_one

    def revoked_meanwhile(**params):
        row = read(**params)
        authhub_token.revoke_token(hub, new.token.id)
        return row

    scheme.lookup.read.fetch_one = revoked_meanwhile
    try:
        assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated  # read before the revocation
    finally:
        del scheme.lookup.read.fetch_one
    assert len(cache_of(hub)) == 0
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."
