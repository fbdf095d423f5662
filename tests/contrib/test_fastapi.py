"""FastAPI dependencies against a real FastAPI application, its test client and its OpenAPI JSON."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI, Security
from fastapi.openapi.models import HTTPBearer
from starlette.middleware import Middleware
from starlette.testclient import TestClient

import authhub
from authhub.contrib.fastapi import ANONYMOUS_SCHEME, FastAPIAuth
from authhub.contrib.starlette import AuthhubMiddleware

from .conftest import login_form_fields


def make_app(hub: authhub.AuthHub, *, middleware: bool = False, document: bool = False, **options: Any) -> FastAPI:
    app = FastAPI(middleware=[Middleware(AuthhubMiddleware, hub=hub)] if middleware else [])
    auth = FastAPIAuth(hub, **options)
    if document:
        auth.document(app)

    @app.get("/me")
    def me(user: Any = Depends(auth.user)) -> dict[str, Any]:
        return {"user": user.username}

    @app.get("/reports")
    def reports(user: Any = Security(auth.user, scopes=["reports:read"])) -> dict[str, Any]:
        return {"user": user.username}

    @app.get("/admin")
    def admin(user: Any = Depends(auth.requires("admin", "reports:read"))) -> dict[str, Any]:
        return {"user": user.username}

    @app.get("/maybe")
    def maybe(identity: authhub.Identity = Depends(auth.identity)) -> dict[str, Any]:
        return {"scheme": identity.scheme}

    @app.get("/open")
    def open_view() -> dict[str, Any]:
        return {"ok": True}

    return app


@pytest.fixture
def client(hub: authhub.AuthHub) -> TestClient:
    return TestClient(make_app(hub))


def test_user_dependency_refuses_anonymous_with_the_challenges(client: TestClient) -> None:
    response = client.get("/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["www-authenticate"] == 'Key realm="tests", Pass'


def test_user_dependency_gives_the_user(client: TestClient, alice: Any, authhub_auth_headers: Any) -> None:
    assert client.get("/me", headers=authhub_auth_headers(alice, "key")).json() == {"user": "alice"}
    assert client.get("/me", headers=authhub_auth_headers(alice, "pass")).json() == {"user": "alice"}


def test_wrong_credentials(client: TestClient) -> None:
    response = client.get("/maybe", headers={"Authorization": "Key unknown"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid key."}


def test_identity_dependency_allows_anonymous(client: TestClient) -> None:
    assert client.get("/maybe").json() == {"scheme": None}


def test_scopes_are_checked(client: TestClient, alice: Any, authhub_auth_headers: Any, key_scheme: Any) -> None:
    refused = client.get("/reports", headers=authhub_auth_headers(alice, "key"))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "This request needs the scope(s): reports:read."}
    key_scheme.scopes_for_next = frozenset({"reports:read"})
    headers = authhub_auth_headers(alice, "key")
    assert client.get("/reports", headers=headers).json() == {"user": "alice"}
    assert client.get("/admin", headers=headers).json() == {"detail": "This request needs the scope(s): admin."}
    key_scheme.scopes_for_next = frozenset({"reports:read", "admin"})
    assert client.get("/admin", headers=authhub_auth_headers(alice, "key")).json() == {"user": "alice"}


def test_openapi_lists_each_scheme_as_an_alternative_with_the_scopes(hub: authhub.AuthHub) -> None:
    document = TestClient(make_app(hub, document=True)).get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "key": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "authhub scheme 'key'."},
        "pass": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "authhub scheme 'pass'."},
    }
    paths = document["paths"]
    assert paths["/me"]["get"]["security"] == [{"key": []}, {"pass": []}]
    assert paths["/reports"]["get"]["security"] == [{"key": ["reports:read"]}, {"pass": ["reports:read"]}]
    assert paths["/admin"]["get"]["security"] == [
        {"key": ["admin", "reports:read"]},
        {"pass": ["admin", "reports:read"]},
    ]
    assert "security" not in paths["/open"]["get"]
    assert paths["/maybe"]["get"]["security"] == [{"key": []}, {"pass": []}, {}]


def test_without_document_the_optional_operation_names_the_placeholder(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["paths"]["/maybe"]["get"]["security"] == [{"key": []}, {"pass": []}, {ANONYMOUS_SCHEME: []}]
    placeholder = document["components"]["securitySchemes"][ANONYMOUS_SCHEME]
    assert "FastAPIAuth.document(app)" in placeholder["description"]


def test_document_marks_optional_authentication_and_the_refusals(hub: authhub.AuthHub) -> None:
    document = TestClient(make_app(hub, document=True)).get("/openapi.json").json()
    paths = document["paths"]
    assert paths["/maybe"]["get"]["security"] == [{"key": []}, {"pass": []}, {}]
    assert ANONYMOUS_SCHEME not in document["components"]["securitySchemes"]
    for protected in ("/me", "/reports", "/admin"):
        responses = paths[protected]["get"]["responses"]
        assert set(responses) == {"200", "401", "403"}, protected
        assert "WWW-Authenticate" in responses["401"]["headers"]
        schema = responses["401"]["content"]["application/json"]["schema"]
        assert schema["properties"] == {"detail": {"type": "string"}}
    assert set(paths["/maybe"]["get"]["responses"]) == {"200", "401"}
    assert set(paths["/open"]["get"]["responses"]) == {"200"}
    assert paths["/me"]["get"]["security"] == [{"key": []}, {"pass": []}]


def test_document_keeps_the_applications_own_answers_and_own_openapi(hub: authhub.AuthHub) -> None:
    app = FastAPI()
    auth = FastAPIAuth(hub)

    @app.get("/me", responses={401: {"description": "Who are you?"}})
    def me(user: Any = Depends(auth.user)) -> dict[str, Any]:
        return {"user": user.username}

    generate = app.openapi

    def with_a_title() -> dict[str, Any]:
        document = generate()
        document["info"]["title"] = "Mine"
        return document

    app.openapi = with_a_title  # type: ignore[method-assign]
    auth.document(app)
    client = TestClient(app)
    first = client.get("/openapi.json").json()
    assert first["info"]["title"] == "Mine"
    assert first["paths"]["/me"]["get"]["responses"]["401"] == {"description": "Who are you?"}
    assert "403" in first["paths"]["/me"]["get"]["responses"]
    assert client.get("/openapi.json").json() == first  # completing twice changes nothing


class Described(authhub.Scheme):
    """A scheme object that describes itself (``Scheme.openapi``), as every bundled scheme does."""

    description: dict[str, Any] | None = None

    @authhub.hookimpl
    def authenticate(self) -> None:
        return None

    def openapi(self) -> dict[str, Any] | None:
        return self.description


class Describing:
    """A plugin whose ``create_scheme`` makes a :class:`Described` with ``description``."""

    def __init__(self, description: dict[str, Any] | None) -> None:
        self.description = description

    @authhub.hookimpl
    def create_scheme(self, hub: authhub.AuthHub, name: str, settings: Any) -> Described:
        scheme = Described(hub, name, settings)
        scheme.description = self.description
        return scheme


def test_openapi_descriptions_come_from_the_schemes_and_overrides(authhub_make_hub: Any) -> None:
    class Nothing:
        @authhub.hookimpl
        def authenticate(self) -> None:
            return None

    plugins = {
        "basic": Describing({"type": "http", "scheme": "basic", "description": "Basic."}),
        "bearer": Describing({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
        "cookie": Describing({"type": "apiKey", "in": "cookie", "name": "sid", "description": "A cookie."}),
        "silent": Describing(None),
        "token": Nothing(),  # a name the core does not know: described like any scheme without a description
        "custom": Describing({"type": "http", "scheme": "basic"}),
    }
    hub = authhub_make_hub(load_entry_points=False, plugins=plugins, schemes=list(plugins))
    app = make_app(hub, openapi={"custom": HTTPBearer(bearerFormat="JWT")})
    schemes = TestClient(app).get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["basic"] == {"type": "http", "scheme": "basic", "description": "Basic."}
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["cookie"] == {"type": "apiKey", "in": "cookie", "name": "sid", "description": "A cookie."}
    for name in ("silent", "token"):
        assert schemes[name] == {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"authhub scheme {name!r}.",
        }
    assert schemes["custom"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def test_openapi_descriptions_of_the_bundled_schemes(authhub_make_hub: Any) -> None:
    """What the four bundled schemes say of themselves (each through its object's ``openapi()``).

    The adapters environment installs all four: a missing one fails here.
    """
    names = ["token", "oauth", "basic", "session"]
    hub = authhub_make_hub(schemes=names)
    schemes = TestClient(make_app(hub)).get("/openapi.json").json()["components"]["securitySchemes"]
    assert (schemes["token"]["type"], schemes["token"]["in"], schemes["token"]["name"]) == (
        "apiKey", "header", "Authorization")
    assert schemes["oauth"]["type"] == "oauth2"
    assert (schemes["basic"]["type"], schemes["basic"]["scheme"].lower()) == ("http", "basic")
    assert (schemes["session"]["type"], schemes["session"]["in"]) == ("apiKey", "cookie")
    assert all(schemes[name].get("description") for name in names)
    for name in names:
        assert schemes[name] == hub.openapi(name)


def test_own_chain(hub: authhub.AuthHub, alice: Any, authhub_auth_headers: Any) -> None:
    client = TestClient(make_app(hub, schemes=["pass"]))
    refused = client.get("/me", headers=authhub_auth_headers(alice, "key"))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Pass"
    assert client.get("/openapi.json").json()["paths"]["/me"]["get"]["security"] == [{"pass": []}]


def test_with_the_starlette_middleware_the_chain_runs_once(
    authhub_make_hub: Any, key_scheme: Any, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    class Counter:
        def __init__(self) -> None:
            self.outcomes = 0

        @authhub.hookimpl
        def authentication_outcome(self) -> None:
            self.outcomes += 1

    counter = Counter()
    hub = authhub_make_hub(load_entry_points=False, plugins={"key": key_scheme, "counter": counter}, schemes=["key"])
    bob = authhub_user("bob", hub=hub)
    client = TestClient(make_app(hub, middleware=True))
    assert client.get("/me", headers=authhub_auth_headers(bob, "key")).json() == {"user": "bob"}
    assert counter.outcomes == 1


def test_a_middleware_on_another_chain_is_not_reused(
    hub: authhub.AuthHub, alice: Any, authhub_auth_headers: Any
) -> None:
    app = make_app(hub)
    app.add_middleware(AuthhubMiddleware, hub=hub, schemes=["pass"])
    client = TestClient(app)
    # The middleware's chain does not know keys (anonymous); the dependency's does.
    assert client.get("/me", headers=authhub_auth_headers(alice, "key")).json() == {"user": "alice"}


def test_headers_a_scheme_asks_for_reach_the_response(authhub_make_hub: Any, authhub_user: Any) -> None:
    class Refreshing:
        @authhub.hookimpl
        def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> Any:
            request.add_response_header("X-Refreshed", "yes")
            return hub.users.get_by_username("dora"), None

    hub = authhub_make_hub(load_entry_points=False, plugins={"refreshing": Refreshing()}, schemes=["refreshing"])
    authhub_user("dora", hub=hub)
    response = TestClient(make_app(hub)).get("/me")
    assert response.json() == {"user": "dora"}
    assert response.headers["x-refreshed"] == "yes"


def test_real_token_plugin_protects_a_fastapi_app(
    token_hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    client = TestClient(make_app(token_hub))
    bob = authhub_user("bob", hub=token_hub)
    refused = client.get("/me")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Token")
    assert client.get("/me", headers=authhub_auth_headers(bob, "token")).json() == {"user": "bob"}
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["token"]["type"] == "apiKey"
    assert document["paths"]["/me"]["get"]["security"] == [{"token": []}]


def test_real_token_scopes_meet_the_routes_scopes(token_hub: authhub.AuthHub, authhub_user: Any) -> None:
    from authhub_token.api import create_token

    client = TestClient(make_app(token_hub))
    authhub_user("bob", hub=token_hub)
    plain = create_token(token_hub, "bob", name="plain").key
    reader = create_token(token_hub, "bob", name="reader", scopes=["reports:read"]).key
    assert client.get("/reports", headers={"Authorization": f"Token {plain}"}).status_code == 403
    assert client.get("/reports", headers={"Authorization": f"Token {reader}"}).json() == {"user": "bob"}


# -- the oauth scheme's flows ---------------------------------------------------------------


def oauth_flows(hub: authhub.AuthHub) -> Any:
    return TestClient(make_app(hub)).get("/openapi.json").json()["components"]["securitySchemes"]["oauth"]


def test_the_oauth_scheme_is_described_with_its_flows(authhub_make_hub: Any) -> None:
    described = oauth_flows(authhub_make_hub(schemes=["oauth"]))
    assert described["type"] == "oauth2"
    assert described["flows"] == {
        "authorizationCode": {
            "authorizationUrl": "/oauth/authorize",
            "tokenUrl": "/oauth/token",
            "refreshUrl": "/oauth/token",
            "scopes": {},
        },
        "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}},
    }
    assert "PKCE" in described["description"]


def test_the_flows_are_at_the_configured_issuer(authhub_make_hub: Any) -> None:
    flows = oauth_flows(authhub_make_hub(schemes=["oauth"], oauth={"issuer": "https://id.example.org/"}))["flows"]
    assert flows["authorizationCode"]["authorizationUrl"] == "https://id.example.org/oauth/authorize"
    assert flows["clientCredentials"]["tokenUrl"] == "https://id.example.org/oauth/token"


def test_tokens_of_another_issuer_are_a_plain_bearer(authhub_make_hub: Any, tmp_path: Any) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    hub = authhub_make_hub(
        schemes=["oauth"],
        oauth={"token_source": "jwt", "jwt_issuer": "https://id.example.org", "jwt_audience": "api", "jwks": str(jwks)},
    )
    described = oauth_flows(hub)
    assert (described["type"], described["scheme"]) == ("http", "bearer")
    assert "flows" not in described


def test_the_operations_ask_the_flows_for_the_routes_scopes(authhub_make_hub: Any) -> None:
    paths = TestClient(make_app(authhub_make_hub(schemes=["oauth"]))).get("/openapi.json").json()["paths"]
    assert paths["/reports"]["get"]["security"] == [{"oauth": ["reports:read"]}]


# -- the hub's plugin routes ----------------------------------------------------------------


def test_the_session_login_page_signs_in_through_fastapi(session_hub: authhub.AuthHub, authhub_user: Any) -> None:
    authhub_user("dora", "dora's password", hub=session_hub)
    app = make_app(session_hub)
    app.include_router(FastAPIAuth(session_hub).hub_router())
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login", params={"next": "/maybe"})
    assert page.status_code == 200
    fields = login_form_fields(page.text)
    signed_in = client.post("/login", data={**fields, "username": "dora", "password": "dora's password"})
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/maybe"
    assert client.get("/maybe").json() == {"scheme": "session"}
    document = client.get("/openapi.json").json()
    assert "/login" not in document["paths"]
    assert client.delete("/login").status_code == 405
