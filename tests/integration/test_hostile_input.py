"""Hostile input against every scheme, the chain, the WSGI stack and the ASGI stack.

The property, whatever the request: an identity of a user its credentials
name, anonymous, or a refusal (4xx with a JSON ``detail``). Never an
exception escaping, never a 5xx, never somebody else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhub import AuthhubError, Request
from authhub.asgi import AuthMiddleware
from authhub.server import make_app
from authhub.testing import postgres_database

from .conftest import SCHEMES, World, basic, make_world
from .strategies import Hostile, authorization_values, cookie_values, hostile_requests

PROFILE = settings.get_profile("authhub-integration")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The seeded hub on SQLite, then on PostgreSQL (which cannot store a NUL: issue 14)."""
    with contextlib.ExitStack() as stack:
        options: dict[str, Any] = {}
        if request.param == "postgresql":
            options["database_url"] = stack.enter_context(postgres_database())
        made = make_world(tmp_path_factory.mktemp("world"), **options)
        yield made
        made.hub.close()


def check_identity(world: World, hostile: Hostile, user: Any, scheme: str | None) -> None:
    if scheme is None:
        assert not getattr(user, "is_authenticated", False)
        return
    assert user.username in hostile.owners, (user.username, hostile.owners)
    assert user.is_active


def hub_request(world: World, hostile: Hostile, schemes: list[str] | None = None) -> None:
    """Run the chain directly; check the property."""
    request = Request(hostile.method, "/whoami", list(hostile.headers), body=hostile.body, client="127.0.0.1",
                      hub=world.hub)
    try:
        identity = world.hub.authenticate(request, schemes)
    except AuthhubError as error:
        assert 400 <= error.status_code < 500, (error.status_code, error.detail)
        assert isinstance(error.detail, str) and error.detail
        return
    check_identity(world, hostile, identity.user, identity.scheme)


# -- each scheme alone, then the whole chain, on the hub -----------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(PROFILE)
@given(data=st.data())
def test_each_scheme_alone(world: World, scheme: str, data: st.DataObject) -> None:
    hub_request(world, data.draw(hostile_requests(world)), [scheme])


@settings(PROFILE)
@given(data=st.data())
def test_the_whole_chain(world: World, data: st.DataObject) -> None:
    hub_request(world, data.draw(hostile_requests(world)))


@settings(PROFILE)
@given(data=st.data())
def test_one_real_credential_is_its_owner_and_nobody_else(world: World, data: st.DataObject) -> None:
    """A single good credential of any scheme, in any letter case, is exactly its owner."""
    people = list(world.people.values())
    value, owners = data.draw(st.one_of(authorization_values(people), cookie_values(people)).filter(
        lambda pair: len(pair[1]) == 1))
    name = "Cookie" if "authhub_session" in value else "Authorization"
    identity = world.hub.authenticate(Request("GET", "/whoami", [(name, value)], client="127.0.0.1", hub=world.hub))
    assert identity.user.username in owners


# -- the WSGI stack (the reference application behind ``authhub serve``) ---------------------


def call_wsgi(app: Any, hostile: Hostile, path: str = "/whoami", query: str = "") -> tuple[int, dict[str, str], bytes]:
    """Call a WSGI application as waitress would: header bytes as latin-1, repeats joined by ', '.

    (httpx's WSGITransport decodes header values as ASCII, so it would fail
    on the very bytes this test sends before the application saw them.)
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": hostile.method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(hostile.body),
        "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(hostile.body)),
    }
    for name, value in hostile.headers:
        key = name.upper().replace("-", "_")
        key = key if key == "CONTENT_TYPE" else "HTTP_" + key
        wire = value.encode("utf-8", "surrogatepass").decode("latin-1")
        environ[key] = f"{environ[key]}, {wire}" if key in environ else wire
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"] = int(status.split()[0])
        started["headers"] = dict(headers)

    body = b"".join(app(environ, start_response))
    return started["status"], started["headers"], body


def check_response(world: World, hostile: Hostile, status: int, body: bytes) -> None:
    assert status < 500, (status, body[:300])
    data = json.loads(body)
    if status >= 400:
        assert status in (400, 401, 403, 405, 413, 429), status
        assert isinstance(data["detail"], str) and data["detail"]
        return
    assert status == 200
    if data["authenticated"]:
        assert data["user"] in hostile.owners, (data, hostile.owners)


@settings(PROFILE)
@given(data=st.data())
def test_the_wsgi_stack(world: World, data: st.DataObject) -> None:
    app = make_app(world.hub)
    hostile = data.draw(hostile_requests(world))
    path = data.draw(st.sampled_from(["/whoami", "/protected", "/auth/verify"]))
    status, _headers, body = call_wsgi(app, hostile, path)
    if hostile.method != "GET" and path != "/auth/verify":
        assert status in (400, 401, 403, 405, 413, 429), status
        assert json.loads(body)["detail"]
        return
    check_response(world, hostile, status, body)


def test_the_wsgi_stack_knows_each_owner(world: World) -> None:
    """The property's other half, over the stack: good credentials are exactly their owner."""
    app = make_app(world.hub)
    for person in world.people.values():
        for scheme in SCHEMES:
            hostile = Hostile(tuple(person.headers(scheme).items()), frozenset({person.username}))
            status, _, body = call_wsgi(app, hostile)
            assert (status, json.loads(body)) == (200, {"authenticated": True, "user": person.username,
                                                        "scheme": scheme})
    for person in world.former.values():  # deactivated: refused, or (session ended) anonymous
        for scheme in SCHEMES:
            status, _, body = call_wsgi(app, Hostile(tuple(person.headers(scheme).items())))
            assert (status, json.loads(body).get("authenticated")) in ((401, None), (200, False)), (scheme, body)


# -- the ASGI stack -----------------------------------------------------------------------------


async def whoami_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    identity = scope["authhub.identity"]
    body = json.dumps({"authenticated": identity.is_authenticated,
                       "user": getattr(identity.user, "username", None) if identity.is_authenticated else None,
                       "scheme": identity.scheme}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def asgi_call(world: World, hostile: Hostile) -> httpx.Response:
    transport = httpx.ASGITransport(app=AuthMiddleware(whoami_app, world.hub))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        headers = [(name.encode("latin-1"), value.encode("utf-8", "surrogatepass")) for name, value in hostile.headers]
        return await client.request(hostile.method, "/whoami", headers=headers, content=hostile.body)


@settings(PROFILE)
@given(data=st.data())
def test_the_asgi_stack(world: World, data: st.DataObject) -> None:
    hostile = data.draw(hostile_requests(world))
    response = asyncio.run(asgi_call(world, hostile))
    check_response(world, hostile, response.status_code, response.content)


def test_a_repeated_authorization_header_is_refused_over_asgi(world: World) -> None:
    """ASGI keeps repeated lines apart: a good token beside a bad Basic header is a 400, not a pick."""
    person = world.people["alice"]
    hostile = Hostile((("Authorization", f"Token {person.token}"), ("Authorization", basic("bob", "x"))))
    response = asyncio.run(asgi_call(world, hostile))
    assert response.status_code == 400
    assert response.json() == {"detail": "More than one Authorization header."}


def test_the_asgi_stack_knows_each_owner(world: World) -> None:
    for person in world.people.values():
        for scheme in SCHEMES:
            hostile = Hostile(tuple(person.headers(scheme).items()), frozenset({person.username}))
            response = asyncio.run(asgi_call(world, hostile))
            assert response.json() == {"authenticated": True, "user": person.username, "scheme": scheme}


def test_an_oversized_form_body_is_refused_not_read(world: World) -> None:
    """The ASGI middleware reads form bodies for CSRF, bounded by ``max_body_size``: 413, never a 5xx."""
    person = world.people["alice"]
    hostile = Hostile((*person.headers("session").items(), ("Content-Type", "application/x-www-form-urlencoded")),
                      frozenset({"alice"}), "POST", b"csrf_token=" + b"x" * (world.hub.settings["max_body_size"] + 1))
    response = asyncio.run(asgi_call(world, hostile))
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


@pytest.fixture(scope="module")
def locking_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The same people behind a lockout that trips after two failures: 429s join the possible answers."""
    made = make_world(tmp_path_factory.mktemp("locking"), lockout_enabled=True, lockout_threshold=2,
                      lockout_backoff_after=1, lockout_global_threshold=4)
    yield made
    made.hub.close()


@settings(PROFILE)
@given(data=st.data())
def test_the_wsgi_stack_with_the_lockout_on(locking_world: World, data: st.DataObject) -> None:
    hostile = data.draw(hostile_requests(locking_world))
    status, headers, body = call_wsgi(make_app(locking_world.hub), hostile)
    check_response(locking_world, hostile, status, body)
    if status == 429:
        assert int(headers["Retry-After"]) >= 1


# -- forms at the login page and the OAuth endpoints (issue 14: NUL gave 500 on PostgreSQL) -----------


def login_csrf(world: World) -> tuple[tuple[str, str], ...]:
    """The login form's pre-session cookie, its masked token and the site's Origin: the form is read."""
    from authhub_session import SessionScheme, csrf

    secret = secrets.token_urlsafe(32)
    cookie = world.hub.find_scheme(SessionScheme).login_cookie.name
    return (("Cookie", f"{cookie}={secret}"), ("X-CSRF-Token", csrf.mask(secret)), ("Origin", "http://127.0.0.1"))


def form_request(world: World, path: str, fields: dict[str, str], basic_credentials: tuple[str, str] | None
                 ) -> tuple[int, bytes]:
    from urllib.parse import urlencode

    # 127.0.0.1: plain http is allowed there, so the OAuth endpoints get as far as the database.
    headers: list[tuple[str, str]] = [("Content-Type", "application/x-www-form-urlencoded"), ("Host", "127.0.0.1")]
    if path == "/login":
        headers.extend(login_csrf(world))
    if basic_credentials is not None:
        raw = f"{basic_credentials[0]}:{basic_credentials[1]}".encode()
        headers.append(("Authorization", "Basic " + base64.b64encode(raw).decode()))
    if path == "/oauth/authorize":
        status, _, body = call_wsgi(make_app(world.hub), Hostile(tuple(headers)), path, urlencode(fields))
    else:
        hostile = Hostile(tuple(headers), frozenset(), "POST", urlencode(fields).encode())
        status, _, body = call_wsgi(make_app(world.hub), hostile, path)
    return status, body


HOSTILE_TEXT = st.one_of(st.text(max_size=40), st.text(st.sampled_from("\x00a:%\u2215\xe9 \uff41"), max_size=8),
                         st.just("\x00"), st.just("alice\x00"))
FIELDS = ["username", "password", "client_id", "client_secret", "token", "token_type_hint", "grant_type", "next",
          "response_type", "redirect_uri", "scope", "code", "refresh_token"]
FORM_PATHS = ["/login", "/oauth/token", "/oauth/authorize", "/oauth/introspect", "/oauth/revoke"]


@settings(PROFILE)
@given(data=st.data())
def test_hostile_forms_at_the_login_page_and_the_oauth_endpoints(world: World, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(FORM_PATHS))
    fields = data.draw(st.dictionaries(st.sampled_from(FIELDS), HOSTILE_TEXT, max_size=6))
    credentials = data.draw(st.none() | st.tuples(HOSTILE_TEXT, HOSTILE_TEXT))
    status, body = form_request(world, path, fields, credentials)
    assert status < 500, (path, fields, status, body[:300])


@pytest.mark.parametrize(("path", "fields", "credentials"), [
    ("/login", {"username": "alice\x00", "password": "x", "next": "/"}, None),
    ("/login", {"username": "\x00", "password": "\x00"}, None),
    ("/oauth/token", {"grant_type": "client_credentials", "client_id": "a\x00", "client_secret": "s"}, None),
    ("/oauth/token", {"grant_type": "client_credentials"}, ("a\x00", "s")),
    ("/oauth/token", {"grant_type": "refresh_token", "refresh_token": "\x00", "client_id": "x"}, None),
    ("/oauth/authorize", {"response_type": "code", "client_id": "a\x00b"}, None),
    ("/oauth/authorize", {"response_type": "code", "client_id": "ok", "redirect_uri": "http://x/\x00"}, None),
    ("/oauth/introspect", {"token": "t", "client_id": "a\x00", "client_secret": "s"}, None),
    ("/oauth/introspect", {"token": "t"}, ("a\x00", "s")),
    ("/oauth/revoke", {"token": "t", "client_id": "\x00"}, None),
    ("/oauth/revoke", {"token": "t\x00"}, ("\x00", "")),
], ids=lambda value: None)
def test_a_nul_byte_is_a_4xx_before_any_query(world: World, path: str, fields: dict[str, str],
                                              credentials: tuple[str, str] | None) -> None:
    status, body = form_request(world, path, fields, credentials)
    assert 400 <= status < 500, (status, body[:300])


@pytest.mark.parametrize(("path", "fields"), [
    ("/oauth/authorize", {"response_type": "\uff41", "client_id": "x"}),
    ("/oauth/token", {"grant_type": "caf\u00e9", "client_id": "x"}),
    ("/oauth/token", {"\u00e9\x00": "x"}),
])
def test_a_parameter_authlib_would_repeat_in_its_error_is_400(world: World, path: str, fields: dict[str, str]) -> None:
    # Found by the test above: Authlib refused to build an error description holding a fullwidth 'a' (ValueError, 500).
    status, body = form_request(world, path, fields, None)
    assert status == 400, body[:300]
