"""The optional in-process cache: off by default, bounded, never past expires_at, emptied by revocation."""

from __future__ import annotations

import datetime as dt
import time

import authhub
import authhub_token

from .conftest import Statements, refusal, request, scheme_of


def cache_of(hub):
    return scheme_of(hub).cache


def test_the_cache_is_off_by_default(hub, alice):
    new = authhub_token.create_token(hub, "alice")
    hub.authenticate(request(hub, f"Token {new.key}"))
    assert cache_of(hub) is None


def test_a_cached_token_skips_the_database(make_hub):
    hub = make_hub(token={"cache_ttl": 60.0})
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice")
    statements = Statements(hub)
    first = hub.authenticate(request(hub, f"Token {new.key}"))
    assert len(statements.selects()) == 1
    statements.clear()
    second = hub.authenticate(request(hub, f"Token {new.key}"))
    assert statements.seen == []
    assert second.user == first.user and second.auth is first.auth


def test_the_cache_is_bounded(make_hub):
    hub = make_hub(token={"cache_ttl": 60.0, "cache_size": 2})
    hub.users.create("alice", "pw")
    keys = [authhub_token.create_token(hub, "alice", name=str(n)).key for n in range(5)]
    for key in keys:
        hub.authenticate(request(hub, f"Token {key}"))
    assert len(cache_of(hub)) == 2


def test_revocation_in_this_process_empties_the_cache_at_once(make_hub):
    hub = make_hub(token={"cache_ttl": 600.0})
    hub.users.create("alice", "pw")
    one = authhub_token.create_token(hub, "alice", name="one")
    two = authhub_token.create_token(hub, "alice", name="two")
    for new in (one, two):
        hub.authenticate(request(hub, f"Token {new.key}"))
    authhub_token.revoke_token(hub, one.token.id)
    assert refusal(hub, f"Token {one.key}").detail == "Invalid token."
    assert hub.authenticate(request(hub, f"Token {two.key}")).is_authenticated
    authhub_token.revoke_user_tokens(hub, "alice")
    assert refusal(hub, f"Token {two.key}").detail == "Invalid token."


def test_two_hubs_keep_separate_caches_and_another_hub_is_told_nothing(make_hub):
    # Issue 12: no module state about hubs, so a revocation through one hub empties that hub's
    # cache only; another hub of the process is like another process (at most cache_ttl).
    serving = make_hub(token={"cache_ttl": 0.5})
    managing = make_hub(token={"cache_ttl": 600.0})  # same database file
    serving.users.create("alice", "pw")
    new = authhub_token.create_token(managing, "alice")
    for hub in (serving, managing):
        assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    assert cache_of(serving) is not cache_of(managing)
    assert len(cache_of(serving)) == len(cache_of(managing)) == 1
    authhub_token.revoke_token(managing, new.token.id)
    assert len(cache_of(managing)) == 0 and len(cache_of(serving)) == 1
    assert refusal(managing, f"Token {new.key}").detail == "Invalid token."
    assert serving.authenticate(request(serving, f"Token {new.key}")).is_authenticated  # still cached...
    time.sleep(0.6)
    assert refusal(serving, f"Token {new.key}").detail == "Invalid token."  # ...for at most cache_ttl


def test_an_invalidation_announced_on_a_hub_reaches_its_cache(make_hub):
    serving = make_hub(token={"cache_ttl": 600.0})
    managing = make_hub()
    serving.users.create("alice", "pw")
    new = authhub_token.create_token(managing, "alice")
    assert serving.authenticate(request(serving, f"Token {new.key}")).is_authenticated
    authhub_token.revoke_token(managing, new.token.id)
    # What a channel between processes would deliver to the serving hub:
    serving.invalidate("token", str(new.token.id))
    assert refusal(serving, f"Token {new.key}").detail == "Invalid token."


def test_invalidating_a_user_drops_only_that_users_tokens(make_hub):
    hub = make_hub(token={"cache_ttl": 600.0})
    alice = hub.users.create("alice", "pw")
    hub.users.create("bob", "pw")
    keys = [authhub_token.create_token(hub, name).key for name in ("alice", "alice", "bob")]
    for key in keys:
        hub.authenticate(request(hub, f"Token {key}"))
    hub.invalidate("user", str(alice.id))
    assert len(cache_of(hub)) == 1
    hub.invalidate("token", "999")
    assert len(cache_of(hub)) == 1


def test_deactivating_the_user_empties_the_cache(make_hub):
    hub = make_hub(token={"cache_ttl": 600.0})
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice")
    hub.authenticate(request(hub, f"Token {new.key}"))
    hub.users.deactivate("alice")
    assert refusal(hub, f"Token {new.key}").detail == "User inactive or deleted."


def test_a_cached_token_never_outlives_its_expiry(make_hub):
    hub = make_hub(token={"cache_ttl": 600.0})
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice", expires_in=dt.timedelta(seconds=1))
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    assert len(cache_of(hub)) == 1
    time.sleep(1.1)
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."


def test_another_process_may_accept_a_revoked_token_for_at_most_cache_ttl(make_hub):
    # A second hub whose revocations this one is not told about stands for another process.
    hub = make_hub(token={"cache_ttl": 0.5})
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice")
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    with hub.store.connect() as connection:  # the other process's revocation, straight in the table
        connection.execute(authhub_token.Token.__table__.update().values(revoked=True))
    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated  # still cached...
    time.sleep(0.6)
    assert refusal(hub, f"Token {new.key}").detail == "Invalid token."  # ...for at most cache_ttl


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


def test_a_revocation_between_the_read_and_the_put_is_not_lost(make_hub):
    # The generation is read before the database: an answer read before a revocation is never cached.
    hub = make_hub(token={"cache_ttl": 600.0})
    hub.users.create("alice", "pw")
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
