"""The read's connections: the store's kept set, shared by threads, released with the hub; the hub goes away."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import authhub_token

from .conftest import listening, refusal, request, scheme_of


def test_many_threads_share_the_lookup(hub, alice):
    keys = [authhub_token.create_token(hub, "alice", name=str(n)).key for n in range(4)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(24)

    def work(key: str) -> None:
        try:
            barrier.wait()
            for _ in range(20):
                assert hub.authenticate(request(hub, f"Token {key}")).user.username == "alice"
        except BaseException as error:  # collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(keys[n % 4],)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    connections = hub.store.kept
    assert scheme_of(hub).lookup.read.connections is connections  # the store's, not the plugin's own
    assert 1 <= len(connections._idle) <= connections.keep


def test_the_asgi_path_authenticates_in_a_worker_thread(hub, alice):
    key = authhub_token.create_token(hub, "alice").key
    identity = asyncio.run(hub.aauthenticate(request(hub, f"Token {key}")))
    assert identity.user.username == "alice" and identity.scheme == "token"


def test_closing_the_scheme_leaves_the_stores_shared_connections_alone(make_hub):
    # Issue 12 item 6: the kept connections belong to the store; closing one plugin must not empty them.
    hub = make_hub(token={"cache_ttl": 60.0})
    hub.users.create("alice", "pw")
    listening(hub)
    key = authhub_token.create_token(hub, "alice").key
    hub.authenticate(request(hub, f"Token {key}"))
    assert len(scheme_of(hub).cache) == 1
    kept = hub.store.kept
    idle = list(kept._idle)
    assert idle
    scheme = scheme_of(hub)
    scheme.close()
    assert kept._idle == idle and len(scheme.cache) == 0
    assert hub.users.get_by_username("alice") is not None  # the core's reads still find their connections
    assert hub.authenticate(request(hub, f"Token {key}")).user.username == "alice"


def test_a_closed_hub_releases_the_connections_and_the_cache(make_hub):
    hub = make_hub(token={"cache_ttl": 60.0})
    hub.users.create("alice", "pw")
    listening(hub)
    key = authhub_token.create_token(hub, "alice").key
    hub.authenticate(request(hub, f"Token {key}"))
    kept = hub.store.kept
    assert kept._idle and len(scheme_of(hub).cache) == 1
    hub.close()
    assert kept._idle == [] and len(scheme_of(hub).cache) == 0
    assert refusal(hub, f"Token {key[:-1]}").detail == "Invalid token."  # still answers what needs no database


def test_a_dropped_hub_is_garbage_collected(tmp_path):
    from authhub.testing import hub_for_tests

    hub = hub_for_tests(tmp_path, schemes=["token"], token={"cache_ttl": 60.0})
    hub.upgrade()
    hub.users.create("alice", "pw")
    listening(hub)  # the channel's listener thread runs too: it must not keep the hub alive
    key = authhub_token.create_token(hub, "alice").key
    for _ in range(2):  # a read, then a cache hit: connections and cache exist
        assert hub.authenticate(request(hub, f"Token {key}")).user.username == "alice"
    kept = hub.store.kept
    assert kept._idle and len(scheme_of(hub).cache) == 1
    dead = weakref.ref(hub)
    scheme = weakref.ref(scheme_of(hub))
    hub.close()
    del hub
    gc.collect()
    assert dead() is None and scheme() is None
    assert kept._idle == []
