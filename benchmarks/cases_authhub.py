"""authhub's own cases: the schemes on the 10,000-user database, the chain, the middleware.

Scheme cases build a fresh :class:`authhub.Request` for every call (as a
server does) and read ``request.user``: the chain runs with the installed
plugin as the only configured scheme, settings at their defaults unless
the case says otherwise.

Core cases need no plugin: tiny schemes registered in code with
``AuthHub(plugins=..., load_entry_points=False)``.
"""

from __future__ import annotations

import base64
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import argon2
from fixtures import PASSWORD, USERNAME
from harness import Case

import authhub
from authhub import AuthHub, Request
from authhub.asgi import AuthMiddleware as ASGIAuthMiddleware
from authhub.wsgi import AuthMiddleware as WSGIAuthMiddleware

GROUP = "authhub"
TINY_USER = authhub.User(1, "bench")
TINY_KEY = "tiny-secret-key"
CHEAP_USER = "bench-cheap"
#: What a tiny scheme "looks up": the least a real scheme could do.
TINY_TOKENS = {TINY_KEY: TINY_USER}


#: Every hub the cases made, closed by :func:`close_hubs` once their group is measured.
_HUBS: list[AuthHub] = []


def hub_for(run_dir: Path, database: Path, *, schemes: list[str], **settings: Any) -> AuthHub:
    """A hub on ``database`` with the installed plugins, ``schemes`` as its chain, nothing read from the machine."""
    settings.setdefault("database_url", f"sqlite:///{database}")
    hub = AuthHub(directory=run_dir, environ={}, schemes=schemes, **settings)
    _HUBS.append(hub)
    return hub


def close_hubs() -> None:
    """Close the hubs made so far, so that no invalidation listener of theirs runs beside the next group.

    A process serving requests has one hub. A listener thread in the
    process (a hub with a cache, on SQLite: it wakes every 10 ms) makes
    every request that releases the GIL (any database read) pay for the
    hand-over, about 1 µs on the benchmark machine; a run that kept
    every earlier hub's listener alive would charge that to every later
    case, several times over.
    """
    while _HUBS:
        _HUBS.pop().close()


def request_call(hub: AuthHub, headers: list[tuple[str, str]], *, method: str = "GET",
                 expect: str = USERNAME) -> Callable[[], Any]:
    """One request with ``headers``, authenticated: the case's unit of work."""
    user = Request(method, "/", headers, hub=hub).user
    assert getattr(user, "username", None) == expect, f"expected {expect!r}, got {user!r}"

    def call() -> Any:
        return Request(method, "/", headers, hub=hub).user

    return call


# -- tiny schemes ----------------------------------------------------------------------------


def tiny_scheme(name: str, answers: bool, *, is_async: bool = False) -> types.ModuleType:
    """A scheme module: the answering one finds its key in a dict, the others find nothing of their kind."""
    module = types.ModuleType(f"bench_scheme_{name}")
    if answers:
        def authenticate(request: Request) -> Any:
            header = request.authorization
            if header is None or not header.startswith("Token "):
                return None
            user = TINY_TOKENS.get(header[6:])
            if user is None:
                raise authhub.AuthenticationFailed()
            return user, None

        async def aauthenticate(request: Request) -> Any:
            return authenticate(request)

        module.authenticate = authhub.hookimpl(aauthenticate if is_async else authenticate)
    else:
        def passes(request: Request) -> None:
            return None

        module.authenticate = authhub.hookimpl(passes)
    return module


def tiny_hub(count: int, run_dir: Path, *, is_async: bool = False) -> AuthHub:
    """A hub whose chain has ``count`` tiny schemes; only the last one answers."""
    names = [f"s{index}" for index in range(count)]
    plugins = {name: tiny_scheme(name, index == count - 1, is_async=is_async) for index, name in enumerate(names)}
    return AuthHub(directory=run_dir, environ={}, database_url="sqlite://", load_entry_points=False, plugins=plugins,
                   schemes=names)


def chain_dispatch(count: int, run_dir: Path) -> Case:
    hub = tiny_hub(count, run_dir)
    request = Request("GET", "/", [("authorization", f"Token {TINY_KEY}")], hub=hub)
    assert hub.authenticate(request).user is TINY_USER
    return Case(f"authhub chain dispatch x{count}", GROUP, lambda: hub.authenticate(request),
                note="last scheme answers; same request object")


# -- middleware over a trivial application -----------------------------------------------------


def _start_response(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> None:
    return None


def trivial_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def trivial_wsgi_reading_user(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    user = environ["authhub.request"].user
    assert user is TINY_USER
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def wsgi_environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Token {TINY_KEY}",
        "HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "bench", "wsgi.url_scheme": "http", "wsgi.input": None,
        "wsgi.errors": None, "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def wsgi_calls(app: Callable[..., Any]) -> Callable[[], Any]:
    base = wsgi_environ()

    def call() -> Any:
        return b"".join(app(dict(base), _start_response))

    assert call() == b"ok"
    return call


def wsgi_middleware(run_dir: Path) -> list[Case]:
    hub = tiny_hub(1, run_dir)
    return [
        Case("WSGI trivial app, bare", GROUP, wsgi_calls(trivial_wsgi)),
        Case("WSGI trivial app + authhub AuthMiddleware", GROUP,
             wsgi_calls(WSGIAuthMiddleware(trivial_wsgi_reading_user, hub)),
             note="app reads request.user; tiny dict scheme"),
    ]


# ASGI


async def trivial_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def trivial_asgi_reading_user(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["authhub.identity"].user is TINY_USER
    await trivial_asgi(scope, receive, send)


def asgi_scope() -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Token {TINY_KEY}".encode()),
                    (b"accept", b"*/*"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


def asgi_calls(app: Callable[..., Any]) -> Callable[[], Any]:
    base = asgi_scope()

    def call() -> Any:
        return app(dict(base), _receive, _send)

    return call


async def trivial_asgi_reading_bench_user(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["authhub.identity"].user.username == USERNAME
    await trivial_asgi(scope, receive, send)


def asgi_token_calls(app: Callable[..., Any], key: str) -> Callable[[], Any]:
    base = asgi_scope()
    base["headers"] = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Token {key}".encode()),
                       (b"accept", b"*/*"), (b"user-agent", b"bench")]

    def call() -> Any:
        return app(dict(base), _receive, _send)

    return call


def asgi_middleware(run_dir: Path, database: Path, key: str) -> list[Case]:
    """The cases answered on the event loop: a bare app, the real token plugin (warm), a coroutine scheme."""
    async_hub = tiny_hub(1, run_dir, is_async=True)
    token_hub = hub_for(run_dir, database, schemes=["token"])
    assert token_hub.changes.wait_until_current(10)
    token_app = ASGIAuthMiddleware(trivial_asgi_reading_bench_user, token_hub)
    return [
        Case("ASGI trivial app + authhub AuthMiddleware (token, warm cache)", GROUP, asgi_token_calls(token_app, key),
             is_async=True, note="the real token plugin, default settings: aauthenticate answers on the loop"),
        Case("ASGI trivial app, bare", GROUP, asgi_calls(trivial_asgi), is_async=True),
        Case("ASGI trivial app + authhub AuthMiddleware (async scheme)", GROUP,
             asgi_calls(ASGIAuthMiddleware(trivial_asgi_reading_user, async_hub)), is_async=True,
             note="tiny coroutine scheme: runs in the event loop"),
    ]


def asgi_middleware_in_a_thread(run_dir: Path) -> list[Case]:
    """A plain (not coroutine) scheme, which the ASGI middleware runs in a worker thread.

    Measured in a group of its own, apart from the token hub's invalidation
    listener: a thread that wakes every 10 ms moves the wall-clock cost of
    every hand-over to a worker thread, authhub's and Starlette's alike.
    """
    sync_hub = tiny_hub(1, run_dir)
    return [
        Case("ASGI trivial app + authhub AuthMiddleware (plain scheme)", GROUP,
             asgi_calls(ASGIAuthMiddleware(trivial_asgi_reading_user, sync_hub)), is_async=True, waits=True,
             note="tiny plain scheme: runs in a worker thread (asyncio.to_thread)"),
    ]


# -- the schemes ----------------------------------------------------------------------------------


def warmed(hub: AuthHub, call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` once the hub's invalidation channel is current, so its caches are used."""
    assert hub.changes.wait_until_current(10), "the invalidation channel did not catch up"
    call()
    return call


def token(run_dir: Path, database: Path, key: str, *, cached: bool = False) -> list[Case]:
    """The token request with the cache off, or (``cached``) with the default settings, warm.

    The two are measured in groups of their own: a hub with a cache has an
    invalidation listener, and a process whose caches are off has none.
    """
    headers = [("host", "api.example"), ("authorization", f"Token {key}")]
    if cached:
        hub = hub_for(run_dir, database, schemes=["token"])
        return [Case("authhub token + cache", GROUP, warmed(hub, request_call(hub, headers)),
                     note="default settings: cache on, warm")]
    plain = hub_for(run_dir, database, schemes=["token"], token={"cache_ttl": 0.0})
    return [Case("authhub token", GROUP, request_call(plain, headers),
                 note="token.cache_ttl = 0: SHA-256 digest, one indexed query")]


def _basic_headers(username: str) -> list[tuple[str, str]]:
    encoded = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    return [("host", "api.example"), ("authorization", f"Basic {encoded}")]


def basic(run_dir: Path, database: Path) -> list[Case]:
    """Basic with the real argon2 parameters (the benchmark user's hash was made with them)."""
    hub = hub_for(run_dir, database, schemes=["basic"])
    return [Case("authhub basic", GROUP, request_call(hub, _basic_headers(USERNAME)), iterations=2, repeats=5,
                 waits=True, note="argon2id t=3 m=64MiB p=4")]


def basic_overhead(run_dir: Path, database: Path) -> list[Case]:
    """Basic's cost beyond argon2, and its cache.

    On a 2-core machine an argon2 verify with the real parameters varies by
    milliseconds from one call to the next, which hides a 50 µs target. So
    the cost *around* argon2 is measured with a user whose hash has the
    cheapest parameters, beside a bare verify of that same hash.
    """
    cheap = {"password_time_cost": 1, "password_memory_cost": 8, "password_parallelism": 1}
    hub = hub_for(run_dir, database, schemes=["basic"], **cheap)
    if hub.users.get_by_username(CHEAP_USER) is None:
        hub.users.create(CHEAP_USER, PASSWORD)
    hasher = argon2.PasswordHasher(type=argon2.Type.ID, time_cost=1, memory_cost=8, parallelism=1)
    stored = hasher.hash(PASSWORD)
    cached = hub_for(run_dir, database, schemes=["basic"], basic={"cache_ttl": 300.0})
    return [
        Case("floor: argon2-cffi verify, cheapest parameters", "floor", lambda: hasher.verify(stored, PASSWORD),
             note="t=1 m=8KiB p=1"),
        Case("authhub basic, cheapest argon2 parameters", GROUP,
             request_call(hub, _basic_headers(CHEAP_USER), expect=CHEAP_USER), note="t=1 m=8KiB p=1"),
        Case("authhub basic + cache", GROUP, request_call(cached, _basic_headers(USERNAME)),
             note="basic.cache_ttl = 300"),
    ]


def session(run_dir: Path, database: Path, *, cached: bool = False) -> list[Case]:
    """A session cookie with the cache off, or (``cached``) with the default settings, warm (see :func:`token`)."""
    hub = hub_for(run_dir, database, schemes=["session"], **({} if cached else {"session": {"cache_ttl": 0.0}}))
    user = hub.users.get_by_username(USERNAME)
    made = hub.auth_headers("session", user)
    assert made is not None
    headers = [("host", "api.example"), ("cookie", f"csrftoken=abc; {made['Cookie']}")]
    if cached:
        return [Case("authhub session + cache", GROUP, warmed(hub, request_call(hub, headers)),
                     note="GET; default settings: cache on, warm")]
    return [Case("authhub session", GROUP, request_call(hub, headers),
                 note="GET; session.cache_ttl = 0: cookie parsed, one joined query")]


def oauth(run_dir: Path, database: Path, *, cached: bool = False) -> list[Case]:
    """Bearer tokens: opaque ones this server issued (10,000 in the table), and RFC 9068 JWTs (RS256).

    The opaque token with its cache off, or (``cached``) the default settings: the opaque token's
    cache warm, and a JWT, whose verified answer is cached too (see :func:`token`).
    """
    try:
        from authhub_oauth.scheme import TEST_CLIENT_ID
    except ImportError:
        print("  authhub-oauth is not installed: no oauth cases", file=sys.stderr)
        return []

    hub = hub_for(run_dir, database, schemes=["oauth"], **({} if cached else {"oauth": {OAUTH_CACHE_TTL: 0.0}}))
    made = hub.auth_headers("oauth", hub.users.get_by_username(USERNAME))
    assert made is not None
    opaque_headers = [("host", "api.example"), *made.items()]
    _fill_oauth_tokens(database, TEST_CLIENT_ID)
    if not cached:
        return [Case("authhub oauth opaque bearer", GROUP, request_call(hub, opaque_headers),
                     note=f"oauth.{OAUTH_CACHE_TTL} = 0: Authlib ResourceProtector; digest lookup; 10,000 tokens")]
    jwks, token = _jwt_material(run_dir)
    jwt_hub = hub_for(run_dir, database, schemes=["oauth"], oauth={
        "token_source": "jwt", "jwks": str(jwks), "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
    })
    return [
        Case("authhub oauth opaque bearer + cache", GROUP, warmed(hub, request_call(hub, opaque_headers)),
             note="default settings: cache on, warm"),
        Case("authhub oauth JWT bearer", GROUP,
             request_call(jwt_hub, [("host", "api.example"), ("authorization", f"Bearer {token}")]),
             note="RS256 (2048-bit), RFC 9068 claims, JWKS file"),
    ]


#: The oauth resource server's cache setting for opaque access tokens.
OAUTH_CACHE_TTL = "cache_ttl"
ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"


def _fill_oauth_tokens(database: Path, client_id: str) -> None:
    """9,999 more access tokens of other users, so the table is the size of the others'."""
    import datetime as dt
    import os
    import sqlite3

    now = dt.datetime.now(dt.timezone.utc)
    later = (now + dt.timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S.%f")
    issued = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(database) as connection:
        if connection.execute("SELECT count(*) FROM oauth_token").fetchone()[0] >= 10_000:
            return
        connection.executemany(
            "INSERT INTO oauth_token (access_token_digest, client_id, user_id, scope, family_id, issued_at, "
            "expires_at) VALUES (?, ?, ?, '', ?, ?, ?)",
            ((os.urandom(32).hex(), client_id, i, os.urandom(16).hex(), issued, later) for i in range(2, 10_001)))
    connection.close()


def _jwt_material(run_dir: Path) -> tuple[Path, str]:
    """A JWKS file with one RSA key, and an access token for the benchmark user signed with it."""
    import json
    import time
    import uuid

    from joserfc import jwt
    from joserfc.jwk import KeySet, RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "bench-key", "use": "sig", "alg": "RS256"})
    jwks = run_dir / "jwks.json"
    jwks.write_text(json.dumps(KeySet([key]).as_dict(private=False)))
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": USERNAME, "client_id": "bench-client", "iat": now,
              "exp": now + 3600, "jti": uuid.uuid4().hex, "scope": "read write"}
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "bench-key"}, claims, key)
    return jwks, token
