"""The lookup's own connections: shared by threads, rebuilt with the hub's store, released when it goes."""

from __future__ import annotations

import asyncio
import gc
import threading

import authhub_token
from authhub_token.registry import authenticator_for

from .conftest import request


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
    connections = authenticator_for(hub, hub.settings.section("token")).lookup.connections
    assert 1 <= len(connections._idle) <= connections.keep


def test_the_asgi_path_authenticates_in_a_worker_thread(hub, alice):
    key = authhub_token.create_token(hub, "alice").key
    identity = asyncio.run(hub.aauthenticate(request(hub, f"Token {key}")))
    assert identity.user.username == "alice" and identity.scheme == "token"


def test_a_closed_hub_gets_a_fresh_lookup_and_the_old_one_is_closed(hub, alice):
    key = authhub_token.create_token(hub, "alice").key
    hub.authenticate(request(hub, f"Token {key}"))
    before = authenticator_for(hub, hub.settings.section("token"))
    assert before.lookup.connections._idle
    hub.close()
    assert hub.authenticate(request(hub, f"Token {key}")).user.username == "alice"
    after = authenticator_for(hub, hub.settings.section("token"))
    assert after is not before and before.lookup.connections._idle == []


def test_a_hub_that_goes_away_takes_its_connections_along(tmp_path):
    from authhub.testing import hub_for_tests
    from authhub_token import registry

    hub = hub_for_tests(tmp_path, schemes=["token"])
    hub.upgrade()
    hub.users.create("alice", "pw")
    key = authhub_token.create_token(hub, "alice").key
    hub.authenticate(request(hub, f"Token {key}"))
    connections = authenticator_for(hub, hub.settings.section("token")).lookup.connections
    assert connections._idle
    hub_id = id(hub)
    hub.close()
    del hub
    gc.collect()
    assert hub_id not in registry._authenticators
    assert connections._idle == []
