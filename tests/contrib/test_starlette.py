"""The Starlette middleware against a real Starlette application and its test client."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

import authhub
from authhub.contrib.starlette import AuthhubCredentials, AuthhubMiddleware, identity_of


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


async def form(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"user": request.user.username, "body": body.decode()})


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"user": websocket.user.username, "scheme": websocket.auth.scheme})
    await websocket.close()


def make_app(hub: authhub.AuthHub, **options: Any) -> Starlette:
    routes = [
        Route("/whoami", whoami),
        Route("/private", private),
        Route("/reports", reports),
        Route("/form", form, methods=["POST"]),
        WebSocketRoute("/ws", socket),
    ]
    return Starlette(routes=routes, middleware=[Middleware(AuthhubMiddleware, hub=hub, **options)])


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


def test_starlette_requires_works_on_authhub_scopes(
    client: TestClient, alice: Any, authhub_auth_headers: Any, key_scheme: Any
) -> None:
    plain = authhub_auth_headers(alice, "key")
    assert client.get("/private").status_code == 403  # Starlette's own requires() refusal
    assert client.get("/private", headers=plain).json() == {"user": "alice"}
    assert client.get("/reports", headers=plain).status_code == 403
    key_scheme.scopes_for_next = frozenset({"reports:read"})
    assert client.get("/reports", headers=authhub_auth_headers(alice, "key")).status_code == 200


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
