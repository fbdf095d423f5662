"""The cache of verified sessions: on by default, used only while the channel is current, dropped everywhere.

A second hub on the same store stands for another process: nothing is
shared between hubs but the session store, the database and its
invalidation channel.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import authhub
import authhub_session
from authhub.testservers import RedisServer
from authhub_session.scheme import session_id_digest
from authhub_session.stores import utcnow

from .conftest import get, session_headers, sessions_of

#: Seconds another hub may take to refuse a session that one hub ended: generous, so CI never flakes.
BOUND = 2.0


class StoreReads:
    """Counts the reads of a hub's session store (``store.get``), whichever store it is."""

    def __init__(self, hub: authhub.AuthHub, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.threads: list[str] = []
        store = sessions_of(hub).store
        read = store.get

        def counted(digest: str) -> Any:
            self.count += 1
            self.threads.append(threading.current_thread().name)
            return read(digest)

        monkeypatch.setattr(store, "get", counted)


def listening(*hubs: authhub.AuthHub) -> None:
    """Wait until each hub's invalidation channel is current: only then does its cache answer."""
    for hub in hubs:
        assert hub.changes.wait_until_current(BOUND), "the invalidation channel did not catch up"


def signed_in(hub: authhub.AuthHub, cookie: str) -> bool:
    return get(hub, cookie=cookie).identity.is_authenticated


def cached(hub: authhub.AuthHub, cookie: str) -> None:
    """Use the session on ``hub`` until its cache holds it."""
    for _ in range(2):
        assert signed_in(hub, cookie)
    assert sessions_of(hub).cache


def refused_within(hub: authhub.AuthHub, cookie: str, bound: float = BOUND) -> float:
    """Ask ``hub`` until the session no longer signs anyone in (or the user is refused); seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if not signed_in(hub, cookie):
                return time.monotonic() - started
        except authhub.UserInactive:
            return time.monotonic() - started
        assert time.monotonic() - started < bound, f"still signed in {bound} s after the change"
        time.sleep(0.005)


@pytest.fixture
def two_hubs(make_hub: Callable[..., authhub.AuthHub]) -> tuple[authhub.AuthHub, authhub.AuthHub, authhub.User]:
    """Two hubs on one session store and one channel, both listening, and alice."""
    serving, managing = make_hub(), make_hub()
    alice = serving.users.create("alice", "pw")
    listening(serving, managing)
    return serving, managing, alice


# -- on by default -------------------------------------------------------------------------


def test_the_cache_is_on_by_default_and_a_hit_skips_the_store(hub: authhub.AuthHub, alice: authhub.User,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cache = sessions_of(hub).cache
    assert isinstance(cache, authhub.TTLCache) and (cache.ttl, cache.size) == (60.0, 10_000)
    listening(hub)
    cookie = session_headers(hub, alice)["Cookie"]
    reads = StoreReads(hub, monkeypatch)
    for _ in range(3):
        request = get(hub, cookie=cookie)
        assert request.identity.user.username == "alice"
        assert authhub_session.current_session(request).user_id == str(alice.id)
    assert reads.count == 1 and len(cache) == 1
    ((key, (_deadline, (session, user))),) = cache._entries.items()
    assert key == session.digest == session_id_digest(cookie.split("=", 1)[1])  # by digest, never the id
    assert user.username == "alice"


@pytest.mark.parametrize("section", [{"cache_ttl": 0}, {"cache_size": 0}])
def test_a_setting_turns_the_cache_off(make_hub, section: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = make_hub(session=section)
    alice = hub.users.create("alice", "pw")
    listening(hub)
    cookie = session_headers(hub, alice)["Cookie"]
    reads = StoreReads(hub, monkeypatch)
    for _ in range(3):
        assert signed_in(hub, cookie)
    assert sessions_of(hub).cache is None and reads.count == 3


@pytest.mark.parametrize("section", [{"cache_ttl": -1}, {"cache_size": -5}])
def test_a_negative_cache_setting_is_a_configuration_error(authhub_make_hub, section: dict) -> None:
    with pytest.raises(authhub.ConfigurationError, match="session.cache_"):
        authhub_make_hub(schemes=["session"], session=section)


def test_while_the_channel_is_not_current_every_request_reads_the_store(
    hub: authhub.AuthHub, alice: authhub.User, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = session_headers(hub, alice)["Cookie"]
    hub.changes.close()  # the listener stops: never current again
    reads = StoreReads(hub, monkeypatch)
    for _ in range(3):
        assert signed_in(hub, cookie)
    assert reads.count == 3 and len(sessions_of(hub).cache) == 0  # no get, no put


# -- every hub on the store is told --------------------------------------------------------


def test_a_logout_in_one_hub_is_refused_by_the_others_cache_within_the_bound(two_hubs) -> None:
    serving, managing, alice = two_hubs
    headers = session_headers(managing, alice)
    other = session_headers(managing, alice)["Cookie"]
    for cookie in (headers["Cookie"], other):
        cached(serving, cookie)
    request = get(managing, method="POST", cookie=headers["Cookie"], headers={"x-csrf-token": headers["X-CSRF-Token"]})
    assert request.identity.is_authenticated
    authhub_session.logout(request)
    assert not signed_in(managing, headers["Cookie"])  # the hub that ended it: at once
    refused_within(serving, headers["Cookie"])
    assert signed_in(serving, other)  # only that session went


def test_logout_all_reaches_the_other_hub(two_hubs) -> None:
    serving, managing, alice = two_hubs
    bob = managing.users.create("bob", "pw")
    alices = [session_headers(managing, alice)["Cookie"] for _ in range(2)]
    bobs = session_headers(managing, bob)["Cookie"]
    for cookie in (*alices, bobs):
        cached(serving, cookie)
    assert authhub_session.logout_all(managing, alice) == 2
    for cookie in alices:
        refused_within(serving, cookie)
    assert get(serving, cookie=bobs).identity.user.username == "bob"


def test_a_deactivation_reaches_the_other_hub(two_hubs) -> None:
    serving, managing, alice = two_hubs
    cookie = session_headers(managing, alice)["Cookie"]
    cached(serving, cookie)
    managing.users.deactivate("alice")
    refused_within(serving, cookie)


def test_with_the_cache_off_a_logout_is_seen_on_the_very_next_request(make_hub) -> None:
    serving, managing = make_hub(session={"cache_ttl": 0}), make_hub(session={"cache_ttl": 0})
    alice = serving.users.create("alice", "pw")
    cookie = session_headers(managing, alice)["Cookie"]
    assert signed_in(serving, cookie)
    sessions_of(managing).end(cookie.split("=", 1)[1])
    assert not signed_in(serving, cookie)


def test_logout_and_a_user_change_drop_only_their_entries(hub: authhub.AuthHub, alice: authhub.User) -> None:
    bob = hub.users.create("bob", "pw")
    listening(hub)
    first, second = (session_headers(hub, alice)["Cookie"] for _ in range(2))
    bobs = session_headers(hub, bob)["Cookie"]
    for cookie in (first, second, bobs):
        cached(hub, cookie)
    cache = sessions_of(hub).cache
    assert len(cache) == 3
    hub.invalidate("session", session_id_digest(first.split("=", 1)[1]))
    assert len(cache) == 2
    hub.invalidate("user", str(bob.id))
    assert len(cache) == 1
    hub.invalidate("*", "*")  # the channel lost track: everything goes
    assert len(cache) == 0


def test_a_logout_between_the_read_and_the_put_is_not_lost(hub: authhub.AuthHub, alice: authhub.User,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The generation is read before the store: an answer read before a logout is never cached.
    listening(hub)
    cookie = session_headers(hub, alice)["Cookie"]
    scheme = sessions_of(hub)
    read = scheme.store.get

    def ended_meanwhile(digest: str) -> Any:
        session = read(digest)
        scheme.end(cookie.split("=", 1)[1])
        return session

    monkeypatch.setattr(scheme.store, "get", ended_meanwhile)
    assert signed_in(hub, cookie)  # read before the logout
    monkeypatch.undo()
    assert len(scheme.cache) == 0
    assert not signed_in(hub, cookie)


# -- what a hit still does -------------------------------------------------------------------


def test_csrf_is_checked_on_every_unsafe_request_hit_or_not(hub: authhub.AuthHub, alice: authhub.User,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    listening(hub)
    headers = session_headers(hub, alice)
    cached(hub, headers["Cookie"])
    reads = StoreReads(hub, monkeypatch)
    with pytest.raises(authhub.PermissionDenied, match="CSRF token missing"):
        get(hub, method="POST", cookie=headers["Cookie"]).identity
    with pytest.raises(authhub.PermissionDenied, match="Origin checking failed"):
        get(hub, method="POST", cookie=headers["Cookie"],
            headers={"x-csrf-token": headers["X-CSRF-Token"], "origin": "https://evil.example"}).identity
    good = get(hub, method="POST", cookie=headers["Cookie"], headers={"x-csrf-token": headers["X-CSRF-Token"]})
    assert good.identity.user.username == "alice"
    assert reads.count == 0  # all three were hits


def test_a_session_that_only_looks_idle_by_the_cached_times_is_read_again_not_ended(make_hub) -> None:
    # idle_timeout 1 s; another process records activity meanwhile (its own touch, straight in the store).
    serving = make_hub(session={"idle_timeout": 1, "touch_interval": 60})
    alice = serving.users.create("alice", "pw")
    listening(serving)
    cookie = session_headers(serving, alice)["Cookie"]
    session_id = cookie.split("=", 1)[1]
    cached(serving, cookie)
    time.sleep(0.6)
    scheme = sessions_of(serving)
    scheme.store.touch(scheme.find(session_id), utcnow(), 60)  # the other process's request
    time.sleep(0.6)  # idle by the cached last_seen_at, not by the stored one
    assert signed_in(serving, cookie)
    assert scheme.find(session_id) is not None


def test_an_idle_session_still_ends(make_hub) -> None:
    hub = make_hub(session={"idle_timeout": 1, "touch_interval": 60})
    alice = hub.users.create("alice", "pw")
    listening(hub)
    cookie = session_headers(hub, alice)["Cookie"]
    cached(hub, cookie)
    time.sleep(1.1)
    assert not signed_in(hub, cookie)
    assert sessions_of(hub).find(cookie.split("=", 1)[1]) is None


def test_activity_is_still_recorded_once_per_touch_interval(make_hub) -> None:
    hub = make_hub(session={"touch_interval": 1})
    alice = hub.users.create("alice", "pw")
    listening(hub)
    cookie = session_headers(hub, alice)["Cookie"]
    session_id = cookie.split("=", 1)[1]
    cached(hub, cookie)
    first = sessions_of(hub).find(session_id).last_seen_at
    time.sleep(1.1)
    assert signed_in(hub, cookie)  # due: the store path records it, and the cache keeps the new time
    later = sessions_of(hub).find(session_id).last_seen_at
    assert later > first
    assert signed_in(hub, cookie) and sessions_of(hub).find(session_id).last_seen_at == later


def test_with_an_applications_own_store_a_hit_reads_the_user_again(make_account_hub) -> None:
    hub = make_account_hub()
    alice = hub.users.add("alice", "pw")
    listening(hub)
    cookie = session_headers(hub, alice)["Cookie"]
    cached(hub, cookie)
    hub.users.disable("alice")  # the application's admin page: nobody is told
    with pytest.raises(authhub.UserInactive):
        get(hub, cookie=cookie).identity
    assert not signed_in(hub, cookie)  # the session ended


# -- ASGI ------------------------------------------------------------------------------------


def test_aauthenticate_answers_a_hit_on_the_loop_and_a_miss_from_a_thread(
    hub: authhub.AuthHub, alice: authhub.User, monkeypatch: pytest.MonkeyPatch
) -> None:
    listening(hub)
    cookie = session_headers(hub, alice)["Cookie"]
    hops = []
    to_thread = asyncio.to_thread

    async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(function)
        return await to_thread(function, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    reads = StoreReads(hub, monkeypatch)

    async def go() -> tuple[authhub.Identity, str]:
        return await hub.aauthenticate(get(hub, cookie=cookie)), threading.current_thread().name

    identity, loop_thread = asyncio.run(go())
    assert identity.user.username == "alice" and identity.scheme == "session"
    assert len(hops) == 1 and reads.count == 1 and reads.threads[0] != loop_thread  # the miss left the loop
    identity, _ = asyncio.run(go())
    assert identity.user.username == "alice"
    assert len(hops) == 1 and reads.count == 1  # the hit: no thread, no read

    async def no_cookie() -> authhub.Identity:
        return await hub.aauthenticate(get(hub))

    assert asyncio.run(no_cookie()).is_authenticated is False and len(hops) == 1


# -- the channel down ------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.slow
def test_with_the_channel_down_an_ended_session_is_never_accepted_from_the_cache(authhub_make_hub) -> None:
    server = RedisServer()  # a private Redis: stopping it leaves the shared one alone
    server.start()
    try:
        serving = authhub_make_hub(schemes=["session"], changes_redis_url=server.url)
        managing = authhub_make_hub(schemes=["session"], changes_redis_url=server.url)
        alice = serving.users.create("alice", "pw")
        listening(serving, managing)
        ended, kept = (session_headers(managing, alice)["Cookie"] for _ in range(2))
        for cookie in (ended, kept):
            cached(serving, cookie)

        server.stop()
        deadline = time.monotonic() + 10
        while serving.changes.current:
            assert time.monotonic() < deadline, "a hub that lost the channel must stop trusting its cache"
            time.sleep(0.02)
        # The session is deleted, but the announcement cannot be written: the caller is told so.
        with pytest.raises(authhub.StoreUnavailable):
            sessions_of(managing).end(ended.split("=", 1)[1])
        for _ in range(3):
            assert not signed_in(serving, ended)  # the store answers, never the cache
        assert signed_in(serving, kept)

        server.start()
        assert serving.changes.wait_until_current(10), "the hub recovers by itself"
        assert not signed_in(serving, ended)  # the lost announcement is not needed: every entry went
        cached(serving, kept)  # and the cache is in use again
    finally:
        server.stop()
