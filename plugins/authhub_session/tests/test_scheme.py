"""The scheme and the API: expiry, deactivation, cookies, login/logout, on every store."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

import authhub
import authhub_session
from authhub.request import RESPONSE_HEADERS
from authhub_session.scheme import session_id_digest
from authhub_session.stores import SessionData, utcnow

from .conftest import get, session_headers, sessions_of


def cookie_of(headers: list[tuple[str, str]]) -> str:
    (line,) = [value for name, value in headers if name == "Set-Cookie"]
    return line


def start_old_session(hub: authhub.AuthHub, user: authhub.User, *, age: int, idle: int) -> str:
    """A stored session created ``age`` seconds ago and last seen ``idle`` seconds ago; returns its id."""
    session_id = "S" * 43
    now = utcnow()
    session = SessionData(session_id_digest(session_id), str(user.id), "c" * 43,
                          now - dt.timedelta(seconds=age), now - dt.timedelta(seconds=idle))
    sessions_of(hub).store.add(session, 3600)
    return session_id


def test_no_cookie_is_not_this_schemes_business(hub: authhub.AuthHub) -> None:
    request = get(hub, cookie="other=1")
    assert request.identity.scheme is None
    assert RESPONSE_HEADERS not in request.state


@pytest.mark.parametrize(("age", "idle", "live"), [
    (100, 10, True),
    (100, 70, False),     # idle longer than idle_timeout (60)
    (4000, 10, False),    # older than absolute_lifetime (3600), though active
])
def test_idle_timeout_and_absolute_lifetime(make_hub, age: int, idle: int, live: bool) -> None:
    hub = make_hub(session={"idle_timeout": 60, "absolute_lifetime": 3600})
    alice = hub.users.create("alice", "pw")
    session_id = start_old_session(hub, alice, age=age, idle=idle)
    request = get(hub, cookie=f"authhub_session={session_id}")

    assert request.identity.is_authenticated is live
    if not live:
        assert sessions_of(hub).find(session_id) is None  # an expired session is deleted when seen
        assert cookie_of(request.state[RESPONSE_HEADERS]).startswith("authhub_session=; Max-Age=0")


def test_activity_is_recorded_at_most_once_per_touch_interval(make_hub) -> None:
    hub = make_hub(session={"touch_interval": 60})
    alice = hub.users.create("alice", "pw")
    session_id = start_old_session(hub, alice, age=30, idle=30)
    before = sessions_of(hub).find(session_id).last_seen_at
    assert get(hub, cookie=f"authhub_session={session_id}").identity.is_authenticated
    assert sessions_of(hub).find(session_id).last_seen_at == before

    stale_id = "T" * 43
    now = utcnow()
    sessions_of(hub).store.add(SessionData(session_id_digest(stale_id), str(alice.id), "c" * 43,
                                           now - dt.timedelta(seconds=300), now - dt.timedelta(seconds=120)), 3600)
    assert get(hub, cookie=f"authhub_session={stale_id}").identity.is_authenticated
    assert utcnow() - sessions_of(hub).find(stale_id).last_seen_at < dt.timedelta(seconds=5)


@pytest.mark.parametrize("cache_ttl", [0, 60], ids=["no-cache", "cache"])
def test_a_user_deactivated_elsewhere_is_refused(make_hub, tmp_path, cache_ttl: int) -> None:
    # With the cache off on the very next request; with it on (a warm entry) as soon as the
    # announcement of the change arrives through the invalidation channel (bound: 2 s).
    hub = make_hub(session={"cache_ttl": cache_ttl})
    alice = hub.users.create("alice", "pw")
    assert hub.changes.wait_until_current(2)
    cookie = session_headers(hub, alice)["Cookie"]
    for _ in range(2):
        assert get(hub, cookie=cookie).identity.user.username == "alice"
    assert len(sessions_of(hub).cache or ()) == (1 if cache_ttl else 0)
    # another service on the same database, without the session plugin (so no user_changed here)
    other = authhub.AuthHub(load_entry_points=False, environ={}, directory=tmp_path,
                            database_url=hub.settings["database_url"])
    other.users.deactivate("alice")
    other.close()

    deadline = time.monotonic() + (2 if cache_ttl else 0)
    while True:
        request = get(hub, cookie=cookie)
        try:
            request.identity
        except authhub.UserInactive as error:
            assert error.detail == "User inactive or deleted."
            break
        assert time.monotonic() < deadline, "a deactivated user was still signed in"
        time.sleep(0.005)
    assert cookie_of(request.state[RESPONSE_HEADERS]).startswith("authhub_session=; Max-Age=0")
    assert get(hub, cookie=cookie).identity.is_authenticated is False  # the session is gone


def test_password_change_and_deactivation_end_every_session(hub: authhub.AuthHub, alice: authhub.User) -> None:
    cookies = [session_headers(hub, alice)["Cookie"] for _ in range(2)]
    hub.users.set_password("alice", "new password")
    assert all(not get(hub, cookie=cookie).identity.is_authenticated for cookie in cookies)

    cookie = session_headers(hub, alice)["Cookie"]
    hub.users.deactivate("alice")
    assert not get(hub, cookie=cookie).identity.is_authenticated


def test_login_rotates_and_logout_ends(hub: authhub.AuthHub, alice: authhub.User) -> None:
    first = get(hub)
    headers = authhub_session.login(first, alice)
    line = cookie_of(headers)
    session_id = line.split(";")[0].split("=", 1)[1]
    assert authhub_session.current_session(first).user_id == str(alice.id)
    assert authhub_session.csrf_token(first) != authhub_session.csrf_token(first)

    second = get(hub, cookie=f"authhub_session={session_id}")
    new_id = cookie_of(authhub_session.login(second, alice)).split(";")[0].split("=", 1)[1]
    assert new_id != session_id
    assert sessions_of(hub).find(session_id) is None

    third = get(hub, cookie=f"authhub_session={new_id}")
    assert third.identity.is_authenticated
    cleared = cookie_of(authhub_session.logout(third))
    assert cleared.startswith("authhub_session=; Max-Age=0")
    assert sessions_of(hub).find(new_id) is None
    assert authhub_session.current_session(third) is None


def test_login_replaces_a_pending_cookie_clear(hub: authhub.AuthHub, alice: authhub.User) -> None:
    request = get(hub, cookie="authhub_session=" + "Z" * 43)
    assert request.identity.is_authenticated is False
    assert len(request.state[RESPONSE_HEADERS]) == 1
    authhub_session.login(request, alice)
    assert request.state[RESPONSE_HEADERS] == []  # the clear would otherwise undo the login


def test_logout_all(hub: authhub.AuthHub, alice: authhub.User) -> None:
    bob = hub.users.create("bob", "pw")
    alice_cookies = [session_headers(hub, alice)["Cookie"] for _ in range(3)]
    bob_cookie = session_headers(hub, bob)["Cookie"]

    assert authhub_session.logout_all(hub, alice) == 3
    assert not any(get(hub, cookie=cookie).identity.is_authenticated for cookie in alice_cookies)
    assert get(hub, cookie=bob_cookie).identity.user.username == "bob"


def test_auth_headers_work_for_unsafe_requests(hub: authhub.AuthHub, alice: authhub.User) -> None:
    headers = session_headers(hub, alice)
    assert set(headers) == {"Cookie", "X-CSRF-Token"}
    request = get(hub, method="POST", cookie=headers["Cookie"], headers={"x-csrf-token": headers["X-CSRF-Token"]})
    assert request.identity.user == alice


# -- cookie settings ---------------------------------------------------------------------


def test_cookie_is_secure_on_https_requests(hub: authhub.AuthHub, alice: authhub.User) -> None:
    plain = cookie_of(authhub_session.login(get(hub), alice))
    secure = cookie_of(authhub_session.login(get(hub, url_scheme="https"), alice))
    assert "Secure" not in plain.split("; ")
    assert "Secure" in secure.split("; ")


def test_cookie_settings(make_hub) -> None:
    hub = make_hub(session={"cookie_name": "sid", "cookie_path": "/app", "cookie_domain": "example.com",
                            "cookie_samesite": "strict", "cookie_secure": True, "absolute_lifetime": 600})
    alice = hub.users.create("alice", "pw")
    line = cookie_of(authhub_session.login(get(hub), alice))
    name_value, *attributes = line.split("; ")
    assert name_value.startswith("sid=")
    assert attributes == ["Max-Age=600", "Path=/app", "Domain=example.com", "HttpOnly", "SameSite=Strict", "Secure"]
    assert get(hub, cookie=name_value).identity.user.username == "alice"

    none = make_hub(session={"cookie_samesite": "None"})
    assert "Secure" in cookie_of(authhub_session.login(get(none), none.users.create("bob", "pw"))).split("; ")


@pytest.mark.parametrize("section", [
    {"cookie_samesite": "sometimes"},
    {"cookie_name": "bad name"},
    {"cookie_path": "/; Domain=evil"},
    {"idle_timeout": 0},
    {"redis_url": "http://127.0.0.1:6379"},
])
def test_bad_settings_are_configuration_errors(authhub_make_hub, section: dict) -> None:
    # Checked once, when the hub is built: a hub never changes afterwards.
    with pytest.raises(authhub.ConfigurationError, match="session\\."):
        authhub_make_hub(schemes=["session"], session=section)


def test_asgi_middleware_clears_a_stale_cookie(hub: authhub.AuthHub) -> None:
    from authhub.asgi import AuthMiddleware

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"cookie", b"authhub_session=" + b"q" * 43)],
             "query_string": b"", "scheme": "http", "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    asyncio.run(AuthMiddleware(app, hub)(scope, receive, send))

    headers = sent[0]["headers"]
    assert (b"content-type", b"text/plain") in headers
    assert any(name == b"set-cookie" and value.startswith(b"authhub_session=; Max-Age=0") for name, value in headers)


@pytest.mark.parametrize(("header", "expected"), [
    ("authhub_session=" + "a" * 43, "a" * 43),
    ("theme=dark; authhub_session=" + "b" * 43 + "; lang=en", "b" * 43),
    ("xauthhub_session=" + "c" * 43, None),
    ('authhub_session="' + "d" * 43 + '"', "d" * 43),   # quoted: the full parser reads it
    ("authhub_session=short", "short"),
    ("lang=en", None),
])
def test_reading_the_session_cookie(hub: authhub.AuthHub, header: str, expected: str | None) -> None:
    from authhub_session.scheme import session_cookie

    request = get(hub, cookie=header)
    assert session_cookie(request, "authhub_session") == expected == request.cookies.get("authhub_session")
