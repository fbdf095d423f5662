"""``aauthenticate`` under ASGI: a cache hit is answered on the event loop, a miss from a worker thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

import authhub
import authhub_token

from .conftest import listening, request, scheme_of


class ThreadHops:
    """Counts ``asyncio.to_thread`` calls and records the threads the token read runs in."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hub: authhub.AuthHub) -> None:
        self.hops = 0
        self.read_threads: list[str] = []
        to_thread = asyncio.to_thread
        read = scheme_of(hub).lookup.read.fetch_one

        async def counted(function, *args, **kwargs):
            self.hops += 1
            return await to_thread(function, *args, **kwargs)

        def recorded(**params):
            self.read_threads.append(threading.current_thread().name)
            return read(**params)

        monkeypatch.setattr(asyncio, "to_thread", counted)
        monkeypatch.setattr(scheme_of(hub).lookup.read, "fetch_one", recorded)


def run(hub: authhub.AuthHub, authorization: str | None) -> tuple[authhub.Identity, str]:
    """Authenticate on an event loop, as the ASGI middleware does; the identity and the loop's thread."""

    async def go() -> tuple[authhub.Identity, str]:
        return await hub.aauthenticate(request(hub, authorization)), threading.current_thread().name

    return asyncio.run(go())


def test_a_miss_reads_in_a_worker_thread_and_a_hit_stays_on_the_loop(hub, alice, monkeypatch):
    listening(hub)
    key = authhub_token.create_token(hub, "alice").key
    watch = ThreadHops(monkeypatch, hub)

    identity, loop_thread = run(hub, f"Token {key}")
    assert (identity.user.username, identity.scheme) == ("alice", "token")
    assert watch.hops == 1 and len(watch.read_threads) == 1
    assert watch.read_threads[0] != loop_thread  # the database read left the loop

    identity, _ = run(hub, f"Token {key}")
    assert identity.user.username == "alice" and identity.auth.id == authhub_token.list_tokens(hub)[0].id
    assert watch.hops == 1 and len(watch.read_threads) == 1  # the hit: no thread, no read


def test_no_token_header_is_answered_on_the_loop(hub, monkeypatch):
    watch = ThreadHops(monkeypatch, hub)
    identity, _ = run(hub, None)
    assert identity.is_authenticated is False
    assert watch.hops == 0


def test_while_the_channel_is_not_current_every_request_goes_to_the_store(hub, alice, monkeypatch):
    key = authhub_token.create_token(hub, "alice").key
    hub.changes.close()  # never current again
    watch = ThreadHops(monkeypatch, hub)
    for _ in range(2):
        assert run(hub, f"Token {key}")[0].user.username == "alice"
    assert watch.hops == 2 and len(watch.read_threads) == 2


def test_a_revoked_token_is_refused_on_the_loop_path_too(hub, alice):
    listening(hub)
    new = authhub_token.create_token(hub, "alice")
    for _ in range(2):
        assert run(hub, f"Token {new.key}")[0].is_authenticated
    authhub_token.revoke_token(hub, new.token.id)
    with pytest.raises(authhub.AuthenticationFailed, match="Invalid token."):
        run(hub, f"Token {new.key}")


def test_with_an_applications_own_store_every_request_asks_it(authhub_account_hub):
    # Such a store announces nothing: the user is read on every request, so even a hit leaves the loop.
    hub = authhub_account_hub(schemes=["token"])
    hub.users.add("alice", "pw")
    listening(hub)
    key = authhub_token.create_token(hub, "alice").key
    for _ in range(2):
        assert run(hub, f"Token {key}")[0].user.username == "alice"
    hub.users.disable("alice")
    with pytest.raises(authhub.UserInactive):
        run(hub, f"Token {key}")
