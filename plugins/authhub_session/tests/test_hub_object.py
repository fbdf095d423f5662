"""The per-hub scheme object: found through the hub, one per hub, gone with its hub."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

import authhub
import authhub_session
from authhub.testing import hub_for_tests
from authhub_session import SessionScheme
from authhub_session.stores import RedisSessionStore, SQLSessionStore

from .conftest import get, session_headers, sessions_of


def test_the_hub_makes_one_scheme_object(hub: authhub.AuthHub) -> None:
    scheme = sessions_of(hub)
    assert isinstance(scheme, SessionScheme)
    assert hub.scheme_object("session") is scheme
    assert (scheme.hub, scheme.name, scheme.position) == (hub, "session", 400)


def test_openapi_describes_the_cookie(make_hub: Callable[..., authhub.AuthHub]) -> None:
    hub = make_hub(session={"cookie_name": "sid"})
    assert hub.openapi("session") == {
        "type": "apiKey", "in": "cookie", "name": "sid", "description": "authhub-session: the session cookie.",
    }


def test_default_chain_position(authhub_make_hub: Callable[..., authhub.AuthHub]) -> None:
    hub = authhub_make_hub()  # no schemes configured: by position
    assert "session" in hub.schemes
    assert sessions_of(hub).position == 400


def test_store_follows_the_settings(hub: authhub.AuthHub, store_kind: str) -> None:
    store = sessions_of(hub).store
    assert isinstance(store, RedisSessionStore if store_kind == "redis" else SQLSessionStore)


def test_a_closed_hub_is_garbage_collected(store_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings: dict = {"schemes": ["session"], "session": {}}
    if store_kind == "postgres":
        settings["database_url"] = request.getfixturevalue("authhub_postgres_url")
    elif store_kind == "redis":
        settings["session"] = {"redis_url": request.getfixturevalue("authhub_redis_url"),
                               "redis_prefix": request.getfixturevalue("redis_prefix")}
    hub = hub_for_tests(tmp_path, **settings)
    hub.upgrade()
    alice = hub.users.create("alice", "pw")
    cookie = session_headers(hub, alice)["Cookie"]
    assert get(hub, cookie=cookie).identity.user.username == "alice"  # the store's connections are in use
    hub_ref, scheme_ref = weakref.ref(hub), weakref.ref(sessions_of(hub))

    hub.close()
    del hub
    gc.collect()

    assert hub_ref() is None
    assert scheme_ref() is None


def test_two_hubs_with_different_cookie_names_side_by_side(make_hub: Callable[..., authhub.AuthHub]) -> None:
    first = make_hub(session={"cookie_name": "first_sid"})
    second = make_hub(session={"cookie_name": "second_sid", "cookie_samesite": "Strict"})
    assert sessions_of(first) is not sessions_of(second)
    alice = first.users.create("alice", "pw")

    (first_line,) = authhub_session.login(get(first), alice)
    (second_line,) = authhub_session.login(get(second), alice)
    assert first_line[1].startswith("first_sid=") and "SameSite=Lax" in first_line[1]
    assert second_line[1].startswith("second_sid=") and "SameSite=Strict" in second_line[1]
    first_cookie, second_cookie = first_line[1].split(";")[0], second_line[1].split(";")[0]

    both = f"{first_cookie}; {second_cookie}"
    assert get(first, cookie=both).identity.scheme == "session"
    assert get(second, cookie=both).identity.scheme == "session"
    # each hub reads its own cookie only, and leaves the other's alone
    other = get(second, cookie=first_cookie)
    assert other.identity.is_authenticated is False
    assert other.response_headers == []

    # logging out of one leaves the other's session, and closing one leaves the other working
    assert authhub_session.logout(get(second, cookie=second_cookie))[0][1].startswith("second_sid=;")
    assert get(second, cookie=second_cookie).identity.is_authenticated is False
    assert get(first, cookie=first_cookie).identity.user.username == "alice"
    first.close()
    third = authhub_session.login(get(second), alice)[0][1].split(";")[0]
    assert get(second, cookie=third).identity.user.username == "alice"


def test_public_functions_need_a_hub_with_the_scheme(authhub_make_hub: Callable[..., authhub.AuthHub]) -> None:
    hub = authhub_make_hub(schemes=[], load_entry_points=False)
    with pytest.raises(authhub.ConfigurationError, match="no SessionScheme in this hub"):
        authhub_session.login(get(hub), authhub.User(1, "alice"))
    with pytest.raises(RuntimeError, match="not bound to an AuthHub"):
        authhub_session.logout(authhub.Request("GET", "/"))
