"""WSGI and ASGI middleware over tiny real applications."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

import authhub
from authhub import AuthHub, asgi, wsgi


def make(tmp_path: Any, plugins: dict[str, Any], **settings: Any) -> AuthHub:
    return AuthHub(
        directory=tmp_path,
        environ={},
        load_entry_points=False,
        plugins=plugins,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        **settings,
    )


# -- WSGI ------------------------------------------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    request = wsgi.request_of(environ)
    body = json.dumps({"user": getattr(request.user, "username", None), "scheme": request.auth_scheme}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def untouched_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b"no auth needed"]


def wsgi_client(app: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver")


def test_wsgi_identity_is_lazy_and_exposed(tmp_path, schemes):
    calls = []

    class Counting:
        @authhub.hookimpl
        def authenticate(self) -> Any:
            calls.append(1)
            return None

    hub = make(tmp_path, {"counting": Counting(), **schemes}, schemes=["counting", "alpha"])
    client = wsgi_client(wsgi.AuthMiddleware(untouched_app, hub))
    assert client.get("/").text == "no auth needed"
    assert calls == []  # never read, never run

    client = wsgi_client(wsgi.AuthMiddleware(wsgi_app, hub))
    assert client.get("/", headers={"X-Alpha": "a-secret"}).json() == {"user": "alice", "scheme": "alpha"}
    assert calls == [1]


def test_wsgi_wrong_credentials_become_401_with_challenges(tmp_path, schemes):
    hub = make(tmp_path, schemes, schemes=["alpha", "beta"])
    response = wsgi_client(wsgi.AuthMiddleware(wsgi_app, hub)).get("/", headers={"X-Alpha": "nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown x-alpha."}
    assert response.headers.get_list("www-authenticate") == ['Alpha realm="test"', "Beta"]


def test_wsgi_login_required_with_its_own_schemes(tmp_path, schemes):
    hub = make(tmp_path, schemes, schemes=["alpha"])
    client = wsgi_client(wsgi.AuthMiddleware(wsgi.login_required(wsgi_app), hub))
    assert client.get("/").status_code == 401
    assert client.get("/", headers={"X-Alpha": "a-secret"}).json()["user"] == "alice"

    beta_only = wsgi_client(wsgi.AuthMiddleware(wsgi.login_required(schemes=["beta"])(wsgi_app), hub))
    refused = beta_only.get("/", headers={"X-Alpha": "a-secret"})
    assert refused.status_code == 401
    assert refused.headers.get_list("www-authenticate") == ["Beta"]  # the view's chain, not the hub's
    assert beta_only.get("/", headers={"X-Beta": "b-secret"}).json() == {"user": "bob", "scheme": "beta"}


# -- ASGI ------------------------------------------------------------------------


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    identity = scope["authhub.identity"]
    request = scope["authhub.request"]
    message = await receive()
    body = json.dumps(
        {
            "user": getattr(identity.user, "username", None),
            "scheme": identity.scheme,
            "same": request.identity is identity,
            "body": message.get("body", b"").decode(),
        }
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def asgi_get(app: Any, method: str = "GET", **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, "/", **kwargs)

    return asyncio.run(go())


def test_asgi_identity_ready_before_the_app(tmp_path, schemes):
    hub = make(tmp_path, schemes, schemes=["alpha", "beta"])
    app = asgi.AuthMiddleware(asgi_app, hub)
    assert asgi_get(app, headers={"X-Beta": "b-secret"}).json() == {
        "user": "bob",
        "scheme": "beta",
        "same": True,
        "body": "",
    }
    assert asgi_get(app).json()["scheme"] is None


def test_asgi_refuses_wrong_credentials_without_calling_the_app(tmp_path, schemes):
    hub = make(tmp_path, schemes, schemes=["alpha", "beta"])
    response = asgi_get(asgi.AuthMiddleware(asgi_app, hub), headers={"X-Beta": "bad"})
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == ['Alpha realm="test"', "Beta"]


def test_asgi_required_and_scheme_override(tmp_path, schemes):
    hub = make(tmp_path, schemes, schemes=["alpha"])
    app = asgi.AuthMiddleware(asgi_app, hub, schemes=["gamma"], required=True)
    assert asgi_get(app, headers={"X-Alpha": "a-secret"}).status_code == 403  # gamma has no challenge
    assert asgi_get(app, headers={"X-Gamma": "g-secret"}).json()["user"] == "gina"


def test_asgi_form_body_is_read_for_schemes_and_replayed(tmp_path):
    class FormScheme:
        @authhub.hookimpl
        def authenticate(self, request: authhub.Request) -> Any:
            token = request.form().get("token")
            return (authhub.User(5, "former"), None) if token == "yes" else None

    hub = make(tmp_path, {"form": FormScheme()}, schemes=["form"])
    response = asgi_get(asgi.AuthMiddleware(asgi_app, hub), "POST", data={"token": "yes", "x": "1"})
    assert response.json() == {"user": "former", "scheme": "form", "same": True, "body": "token=yes&x=1"}


def test_asgi_body_over_the_limit_is_413(tmp_path, schemes):
    hub = make(tmp_path, schemes, max_body_size=8)
    response = asgi_get(asgi.AuthMiddleware(asgi_app, hub), "POST", data={"token": "x" * 100})
    assert response.status_code == 413


def test_asgi_coroutine_scheme_is_awaited_natively(tmp_path):
    loops = []

    class Native:
        @authhub.hookimpl
        async def authenticate(self) -> Any:
            loops.append(asyncio.get_running_loop())
            return authhub.User(3, "native"), None

    hub = make(tmp_path, {"native": Native()}, schemes=["native"])
    assert asgi_get(asgi.AuthMiddleware(asgi_app, hub)).json()["user"] == "native"
    assert len(loops) == 1


def test_asgi_lifespan_passes_through(tmp_path, schemes):
    seen = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    hub = make(tmp_path, schemes)
    asyncio.run(asgi.AuthMiddleware(app, hub)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]
