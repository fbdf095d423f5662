"""The Starlette middleware against a real Starlette application and its test client."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import BaseUser, UnauthenticatedUser, requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

import authhub
from authhub.contrib.starlette import (
    AuthhubCredentials,
    AuthhubMiddleware,
    StarletteAnonymousUser,
    StarletteUser,
    challenge_anonymous,
    hub_routes,
    identity_of,
)

from .conftest import login_form_fields


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "user": request.user.username,
            "authenticated": request.user.is_authenticated,
            "scopes": request.auth.scopes,
            "scheme": request.auth.scheme,
            "same_identity": identity_of(request) is request.auth.identity,
        }
    )


@requires("authenticated")
async def private(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.username})


@requires("reports:read")
async def reports(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.username})


async def base_user(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "base_user": isinstance(user, BaseUser),
            "type": type(user).__name__,
            "is_authenticated": user.is_authenticated,
            "display_name": user.display_name,
            "identity": user.identity,
        }
    )


async def form(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"user": request.user.username, "body": body.decode()})


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"user": websocket.user.username, "scheme": websocket.auth.scheme})
    await websocket.close()


def make_app(hub: authhub.AuthHub, *, exception_handlers: Any = None, extra: Any = (), **options: Any) -> Starlette:
    routes = [
        Route("/whoami", whoami),
        Route("/base-user", base_user),
        Route("/private", private),
        Route("/reports", reports),
        Route("/form", form, methods=["POST"]),
        WebSocketRoute("/ws", socket),
        *extra,
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(AuthhubMiddleware, hub=hub, **options)],
        exception_handlers=exception_handlers,
    )


@pytest.fixture
def client(hub: authhub.AuthHub) -> TestClient:
    return TestClient(make_app(hub))


def test_anonymous_request_user_and_auth(client: TestClient) -> None:
    response = client.get("/whoami")
    assert response.json() == {
        "user": None,
        "authenticated": False,
        "scopes": [],
        "scheme": None,
        "same_identity": True,
    }


def test_authenticated_request_user_and_auth(
    client: TestClient, alice: Any, authhub_auth_headers: Any, key_scheme: Any
) -> None:
    key_scheme.scopes_for_next = frozenset({"reports:read", "a"})
    response = client.get("/whoami", headers=authhub_auth_headers(alice, "key"))
    assert response.json() == {
        "user": "alice",
        "authenticated": True,
        "scopes": ["authenticated", "a", "reports:read"],
        "scheme": "key",
        "same_identity": True,
    }


def test_request_user_is_a_starlette_base_user(client: TestClient, alice: Any, authhub_auth_headers: Any) -> None:
    assert client.get("/base-user", headers=authhub_auth_headers(alice, "key")).json() == {
        "base_user": True,
        "type": "StarletteUser",
        "is_authenticated": True,
        "display_name": "alice",
        "identity": str(alice.id),
    }
    assert client.get("/base-user").json() == {
        "base_user": True,
        "type": "StarletteAnonymousUser",
        "is_authenticated": False,
        "display_name": "",
        "identity": "",
    }


def test_the_starlette_user_is_the_store_user_underneath(alice: Any) -> None:
    user = StarletteUser(alice)
    assert user.authhub_user is alice
    assert (user.id, user.username, user.pk) == (alice.id, "alice", alice.id)
    assert isinstance(StarletteAnonymousUser(), UnauthenticatedUser)
    assert StarletteAnonymousUser().username is None


def test_starlette_requires_works_on_authhub_scopes(
    client: TestClient, alice: Any, authhub_auth_headers: Any, key_scheme: Any
) -> None:
    plain = authhub_auth_headers(alice, "key")
    assert client.get("/private").status_code == 403  # Starlette's own requires() refusal, no handler installed
    assert client.get("/private", headers=plain).json() == {"user": "alice"}
    assert client.get("/reports", headers=plain).status_code == 403
    key_scheme.scopes_for_next = frozenset({"reports:read"})
    assert client.get("/reports", headers=authhub_auth_headers(alice, "key")).status_code == 200


def test_requires_refuses_anonymous_with_the_core_401_through_the_handler(
    hub: authhub.AuthHub, alice: Any, authhub_auth_headers: Any
) -> None:
    client = TestClient(make_app(hub, exception_handlers={403: challenge_anonymous}))
    refused = client.get("/private")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Authentication credentials were not provided."}
    assert refused.headers.get_list("www-authenticate") == ['Key realm="tests"', "Pass"]
    # Authenticated without the scope: Starlette's own 403 stays.
    no_scope = client.get("/reports", headers=authhub_auth_headers(alice, "key"))
    assert (no_scope.status_code, no_scope.text) == (403, "Forbidden")
    assert "www-authenticate" not in no_scope.headers
    assert client.get("/private", headers=authhub_auth_headers(alice, "key")).json() == {"user": "alice"}


def test_the_handler_challenges_with_the_middlewares_own_chain(hub: authhub.AuthHub) -> None:
    client = TestClient(make_app(hub, schemes=["pass"], exception_handlers={403: challenge_anonymous}))
    refused = client.get("/private")
    assert refused.status_code == 401
    assert refused.headers.get_list("www-authenticate") == ["Pass"]


def test_wrong_credentials_never_reach_the_application(client: TestClient) -> None:
    response = client.get("/whoami", headers={"Authorization": "Key unknown"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid key."}
    assert response.headers.get_list("www-authenticate") == ['Key realm="tests"', "Pass"]


def test_required_refuses_anonymous_with_the_challenges(hub: authhub.AuthHub) -> None:
    response = TestClient(make_app(hub, required=True)).get("/whoami")
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == ['Key realm="tests"', "Pass"]


def test_own_chain_for_the_application(hub: authhub.AuthHub, alice: Any, authhub_auth_headers: Any) -> None:
    client = TestClient(make_app(hub, schemes=["pass"]))
    # A key is not this application's kind of credentials: anonymous.
    assert client.get("/whoami", headers=authhub_auth_headers(alice, "key")).json()["user"] is None
    assert client.get("/whoami", headers=authhub_auth_headers(alice, "pass")).json()["scheme"] == "pass"


def test_form_bodies_still_reach_the_application(client: TestClient, alice: Any, authhub_auth_headers: Any) -> None:
    response = client.post("/form", data={"field": "kept"}, headers=authhub_auth_headers(alice, "pass"))
    assert response.json() == {"user": "alice", "body": "field=kept"}


def test_websocket_gets_user_and_auth(client: TestClient, alice: Any, authhub_auth_headers: Any) -> None:
    with client.websocket_connect("/ws", headers=authhub_auth_headers(alice, "key")) as websocket:
        assert websocket.receive_json() == {"user": "alice", "scheme": "key"}


def test_websocket_with_wrong_credentials_is_closed(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/ws", headers={"Authorization": "Key unknown"}),
    ):
        pass
    assert closed.value.code == 1008


def test_credentials_repr_shows_no_secret(hub: authhub.AuthHub) -> None:
    credentials = AuthhubCredentials(authhub.Identity(authhub.User(1, "alice"), "secret-token", "key"))
    assert "secret-token" not in repr(credentials)
    assert credentials.auth == "secret-token"


def test_real_token_plugin_protects_a_starlette_app(
    token_hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    client = TestClient(make_app(token_hub))
    bob = authhub_user("bob", hub=token_hub)
    assert client.get("/whoami", headers={"Authorization": "Token wrong"}).status_code == 401
    response = client.get("/private", headers=authhub_auth_headers(bob, "token"))
    assert response.json() == {"user": "bob"}


def test_the_session_login_page_signs_in_through_starlette(session_hub: authhub.AuthHub, authhub_user: Any) -> None:
    authhub_user("dora", "dora's password", hub=session_hub)
    client = TestClient(make_app(session_hub, extra=hub_routes(session_hub)), follow_redirects=False)
    page = client.get("/login", params={"next": "/whoami"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    fields = login_form_fields(page.text)
    wrong = client.post("/login", data={**fields, "username": "dora", "password": "wrong"})
    assert "Invalid username/password." in wrong.text
    signed_in = client.post("/login", data={**fields, "username": "dora", "password": "dora's password"})
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/whoami"
    assert len(signed_in.headers.get_list("set-cookie")) == 2  # the session, and the login cookie cleared
    assert client.get("/whoami").json()["user"] == "dora"


def test_plugin_routes_answer_like_authhub_serve(session_hub: authhub.AuthHub) -> None:
    client = TestClient(Starlette(routes=hub_routes(session_hub)))
    not_allowed = client.delete("/login")
    assert not_allowed.status_code == 405
    no_csrf = client.post("/login", data={"username": "dora", "password": "x"})
    assert no_csrf.status_code == 403
    assert no_csrf.json() == {"detail": "CSRF Failed: CSRF cookie not set."}
    head = client.head("/login")
    assert head.status_code == 200 and head.content == b""


def test_a_plugin_route_body_is_bounded(authhub_make_hub: Any) -> None:
    hub = authhub_make_hub(schemes=["session"], max_body_size=1024)
    client = TestClient(Starlette(routes=hub_routes(hub)))
    response = client.post("/login", content=b"x" * 2048, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 1024 bytes."}
