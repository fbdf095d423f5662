"""Another process refuses what one cut off: revocations and deactivations travel on the invalidation channel.

A second hub on the same store stands for another process (nothing is
shared between hubs but the store and its channel). The cache answers
only while the channel is current: with the channel down, a revoked token
is never accepted from memory.
"""

from __future__ import annotations

import time

import pytest

import authhub
import authhub_token
from authhub.testservers import RedisServer

from .conftest import BOUND, listening, refused_within, request, scheme_of


@pytest.fixture
def two_servers(make_hub, shared_store):
    """Two hubs on one store and one channel (SQLite, PostgreSQL, or SQLite with the channel on Redis)."""
    serving = make_hub(**shared_store)
    managing = make_hub(**shared_store)
    serving.users.create("alice", "pw")
    serving.users.create("bob", "pw")
    listening(serving, managing)
    return serving, managing


def cached(hub, key):
    """Authenticate ``key`` until the hub answers it from its cache."""
    for _ in range(2):
        assert hub.authenticate(request(hub, f"Token {key}")).is_authenticated
    assert len(scheme_of(hub).cache) >= 1


def test_a_revoked_token_is_refused_by_the_other_hub_within_the_bound(two_servers):
    serving, managing = two_servers
    new = authhub_token.create_token(managing, "alice")
    other = authhub_token.create_token(managing, "alice", name="other")
    for key in (new.key, other.key):
        cached(serving, key)
    started = time.monotonic()
    authhub_token.revoke_token(managing, new.token.id)
    assert refused_within(serving, f"Token {new.key}").detail == "Invalid token."
    assert time.monotonic() - started < BOUND
    # Only that token's entry went: the other one is still answered from memory.
    assert len(scheme_of(serving).cache) == 1
    assert serving.authenticate(request(serving, f"Token {other.key}")).is_authenticated


def test_revoking_every_token_of_a_user_reaches_the_other_hub(two_servers):
    serving, managing = two_servers
    alices = [authhub_token.create_token(managing, "alice", name=str(n)) for n in range(2)]
    bobs = authhub_token.create_token(managing, "bob")
    for new in (*alices, bobs):
        cached(serving, new.key)
    assert authhub_token.revoke_user_tokens(managing, "alice") == 2
    for new in alices:
        assert refused_within(serving, f"Token {new.key}").detail == "Invalid token."
    assert serving.authenticate(request(serving, f"Token {bobs.key}")).user.username == "bob"


def test_a_deactivation_reaches_the_other_hub(two_servers):
    serving, managing = two_servers
    new = authhub_token.create_token(managing, "bob")
    cached(serving, new.key)
    managing.users.deactivate("bob")
    assert refused_within(serving, f"Token {new.key}").detail == "User inactive or deleted."


@pytest.mark.redis
@pytest.mark.slow
def test_with_the_channel_down_a_revoked_token_is_never_accepted_from_the_cache(make_hub):
    server = RedisServer()  # a private Redis: stopping it leaves the shared one alone
    server.start()
    try:
        serving = make_hub(changes_redis_url=server.url)
        managing = make_hub(changes_redis_url=server.url)
        serving.users.create("alice", "pw")
        listening(serving, managing)
        new = authhub_token.create_token(managing, "alice")
        kept = authhub_token.create_token(managing, "alice", name="kept")
        for key in (new.key, kept.key):
            cached(serving, key)

        server.stop()
        deadline = time.monotonic() + 10
        while serving.changes.current:
            assert time.monotonic() < deadline, "a hub that lost the channel must stop trusting its cache"
            time.sleep(0.02)
        # The revocation is written, but its announcement cannot be: the revoker is told so.
        with pytest.raises(authhub.StoreUnavailable):
            authhub_token.revoke_token(managing, new.token.id)
        for _ in range(3):  # the store answers, never the cache
            with pytest.raises(authhub.AuthenticationFailed, match="Invalid token."):
                serving.authenticate(request(serving, f"Token {new.key}"))
        assert serving.authenticate(request(serving, f"Token {kept.key}")).is_authenticated

        server.start()
        assert serving.changes.wait_until_current(10), "the hub recovers by itself"
        # The lost announcement is not in the log: the entry must be gone all the same.
        with pytest.raises(authhub.AuthenticationFailed, match="Invalid token."):
            serving.authenticate(request(serving, f"Token {new.key}"))
        cached(serving, kept.key)  # and the cache is in use again
    finally:
        server.stop()
