"""``aauthenticate``: the same answers under ASGI, and a cache hit that never leaves the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import authhub
import authhub_basic.scheme

from .conftest import PASSWORD, basic, ready, request


def arefusal(hub: authhub.AuthHub, authorization: str) -> authhub.AuthhubError:
    with pytest.raises(authhub.AuthhubError) as caught:
        asyncio.run(hub.aauthenticate(request(hub, authorization)))
    return caught.value


def thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every piece of work the scheme sends to a worker thread."""
    hops: list[str] = []
    to_thread = asyncio.to_thread

    async def recording(function: Any, /, *args: Any, **kwargs: Any) -> Any:
        hops.append(function.__name__)
        return await to_thread(function, *args, **kwargs)

    monkeypatch.setattr(authhub_basic.scheme.asyncio, "to_thread", recording)
    return hops


@pytest.mark.parametrize("cache_ttl", [0, 60])
def test_the_same_answers_as_authenticate(make_hub, cache_ttl):
    hub = make_hub(basic={"cache_ttl": cache_ttl})
    alice = hub.users.create("alice", PASSWORD)
    hub.users.create("carol", PASSWORD, is_active=False)
    for _ in range(2):
        identity = asyncio.run(hub.aauthenticate(request(hub, basic("alice", PASSWORD))))
        assert (identity.user, identity.auth, identity.scheme) == (alice, None, "basic")
    assert asyncio.run(hub.aauthenticate(request(hub))).scheme is None
    assert asyncio.run(hub.aauthenticate(request(hub, "Bearer abc"))).scheme is None
    assert arefusal(hub, basic("alice", "wrong")).detail == "Invalid username/password."
    assert arefusal(hub, basic("carol", PASSWORD)).detail == "User inactive or deleted."
    error = arefusal(hub, "Basic !!!")
    assert isinstance(error, authhub.MalformedCredentials)
    assert error.scheme == "basic"
    assert error.detail == "Invalid Basic authorization header: the credentials are not valid base64."


def test_a_cache_hit_stays_on_the_event_loop(make_hub, monkeypatch):
    hub = make_hub(basic={"cache_ttl": 60})
    alice = hub.users.create("alice", PASSWORD)
    hops = thread_hops(monkeypatch)
    for _ in range(3):
        assert asyncio.run(hub.aauthenticate(request(hub, basic("alice", PASSWORD)))).user == alice
    assert hops == ["_verified"]  # the miss only
    assert arefusal(hub, basic("alice", PASSWORD + "?")).detail == "Invalid username/password."
    assert hops == ["_verified", "_verified"]
    hub.users.set_password("alice", "new password")
    assert arefusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."


def test_a_hit_with_an_application_store_reads_the_status_in_a_thread(authhub_account_hub, monkeypatch):
    hub = ready(authhub_account_hub(schemes=["basic"], basic={"cache_ttl": 60}))
    alice = hub.users.add("alice", PASSWORD)
    hops = thread_hops(monkeypatch)
    for _ in range(2):
        assert asyncio.run(hub.aauthenticate(request(hub, basic("alice", PASSWORD)))).user == alice
    assert hops == ["_verified", "_verified"]
    hub.users.disable("alice")
    assert arefusal(hub, basic("alice", PASSWORD)).detail == "User inactive or deleted."


def test_a_cached_hit_is_refused_cross_site_too(make_hub):
    # Issue 14: an unsafe request from another site is 403, also when the credentials are in the cache.
    hub = ready(make_hub(basic={"cache_ttl": 60}))
    hub.users.create("alice", PASSWORD)
    assert asyncio.run(hub.aauthenticate(request(hub, basic("alice", PASSWORD)))).user.username == "alice"
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        unsafe = authhub.Request("POST", "/whoami", [*headers.items(), ("Authorization", basic("alice", PASSWORD))],
                                 hub=hub, client="127.0.0.1")
        with pytest.raises(authhub.PermissionDenied, match="cross-site"):
            asyncio.run(hub.aauthenticate(unsafe))
        with pytest.raises(authhub.PermissionDenied, match="cross-site"):
            hub.authenticate(unsafe)
