"""Fixtures for the Basic scheme's tests: a hub with Basic alone, and its users."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

import authhub

PASSWORD = "correct horse battery staple"


def basic(user_id: str, password: str) -> str:
    """An ``Authorization`` value, written here independently of the plugin's own encoder."""
    return "Basic " + base64.b64encode(f"{user_id}:{password}".encode()).decode("ascii")


def request(
    hub: authhub.AuthHub, authorization: str | None = None, *, client: str = "127.0.0.1", **headers: str
) -> authhub.Request:
    items = [(name.replace("_", "-"), value) for name, value in headers.items()]
    if authorization is not None:
        items.append(("Authorization", authorization))
    return authhub.Request("GET", "/whoami", items, hub=hub, client=client)


def refusal(hub: authhub.AuthHub, authorization: str, *, client: str = "127.0.0.1") -> authhub.AuthhubError:
    """The error the hub's chain raises for ``authorization`` (fails the test if it does not raise)."""
    with pytest.raises(authhub.AuthhubError) as caught:
        hub.authenticate(request(hub, authorization, client=client))
    return caught.value


def ready(hub: authhub.AuthHub) -> authhub.AuthHub:
    """With Basic's cache on, wait until the hub's invalidation channel is current.

    The cache answers only while it is (fails closed otherwise), and the
    listener starts on first use: without this, a test's second request
    could miss the cache merely because the listener is still starting.
    """
    if hub.settings.section("basic")["cache_ttl"] > 0:
        assert hub.changes.wait_until_current(5.0), "the invalidation channel did not become current"
    return hub


@pytest.fixture
def make_hub(authhub_make_hub: Callable[..., authhub.AuthHub]) -> Callable[..., authhub.AuthHub]:
    """Hubs whose chain is Basic alone unless ``schemes`` says otherwise."""

    def make(**settings: Any) -> authhub.AuthHub:
        settings.setdefault("schemes", ["basic"])
        hub = authhub_make_hub(**settings)
        return ready(hub) if settings.get("upgrade", True) else hub

    return make


@pytest.fixture
def hub(make_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    return make_hub()


@pytest.fixture
def alice(hub: authhub.AuthHub) -> authhub.User:
    return hub.users.create("alice", PASSWORD)

