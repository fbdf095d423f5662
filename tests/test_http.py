"""Errors become HTTP: statuses, JSON bodies, one challenge line per scheme."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

import authhub
from authhub import AuthHub
from authhub.server import make_app

from .conftest import header_scheme


def basic_like() -> Any:
    return header_scheme("x-basic", {"ok": "bea"}, challenge='Basic realm="api", charset="UTF-8"')


def client_for(tmp_path: Path, plugins: dict[str, Any], **settings: Any) -> httpx.Client:
    settings.setdefault("database_url", f"sqlite:///{tmp_path / 'db.sqlite'}")
    hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, plugins=plugins, **settings)
    return httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://testserver")


def test_whoami_anonymous_and_authenticated(tmp_path, schemes):
    client = client_for(tmp_path, schemes, schemes=["alpha", "beta"])
    assert client.get("/whoami").json() == {"authenticated": False, "user": None, "scheme": None}
    assert client.get("/whoami", headers={"X-Beta": "b-secret"}).json() == {
        "authenticated": True,
        "user": "bob",
        "scheme": "beta",
    }
    assert client.get("/protected", headers={"X-Alpha": "a-secret"}).json()["user"] == "alice"


def test_wrong_credentials_give_401_with_every_challenge_on_its_own_line(tmp_path, schemes):
    client = client_for(tmp_path, {**schemes, "basic": basic_like()}, schemes=["alpha", "gamma", "basic", "beta"])
    response = client.get("/whoami", headers={"X-Beta": "wrong"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown x-beta."}
    assert response.headers["content-type"] == "application/json"
    # gamma has no challenge; the rest come in chain order, one header line each.
    assert response.headers.get_list("www-authenticate") == [
        'Alpha realm="test"',
        'Basic realm="api", charset="UTF-8"',
        "Beta",
    ]


def test_missing_authentication_on_a_protected_route(tmp_path, schemes):
    client = client_for(tmp_path, schemes, schemes=["beta", "alpha"])
    response = client.get("/protected")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers.get_list("www-authenticate") == ["Beta", 'Alpha realm="test"']


def test_no_challenge_in_the_chain_means_403(tmp_path, schemes):
    client = client_for(tmp_path, schemes, schemes=["gamma"])
    assert client.get("/protected").status_code == 403
    response = client.get("/whoami", headers={"X-Gamma": "wrong"})
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers


def test_script_clients_get_no_basic_popup(tmp_path, schemes):
    client = client_for(tmp_path, {**schemes, "basic": basic_like()}, schemes=["basic", "beta"])
    response = client.get("/protected", headers={"X-Requested-With": "XMLHttpRequest"})
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == ['xBasic realm="api", charset="UTF-8"', "Beta"]
    # Browsers navigating normally still get the real challenge.
    assert client.get("/protected").headers.get_list("www-authenticate")[0].startswith("Basic ")
    # And the setting turns it off.
    plain = client_for(tmp_path, {**schemes, "basic": basic_like()}, schemes=["basic"], script_clients_no_popup=False)
    assert (
        plain.get("/protected", headers={"X-Requested-With": "XMLHttpRequest"})
        .headers["www-authenticate"]
        .startswith("Basic ")
    )


def test_store_unavailable_is_503(tmp_path):
    class NeedsStore:
        @authhub.hookimpl
        def authenticate(self, hub: AuthHub) -> Any:
            hub.store.check()
            return None

    client = client_for(
        tmp_path, {"db": NeedsStore()}, schemes=["db"], database_url=f"sqlite:///{tmp_path}/no/such/dir/x.db"
    )
    response = client.get("/whoami")
    assert response.status_code == 503
    assert response.json() == {"detail": "Authentication store unavailable."}


def test_a_crashing_plugin_is_a_500_never_anonymous(tmp_path, schemes):
    class Crash:
        @authhub.hookimpl
        def authenticate(self) -> Any:
            raise ZeroDivisionError

    client = client_for(tmp_path, {"crash": Crash(), **schemes}, schemes=["crash", "alpha"])
    response = client.get("/whoami")
    assert response.status_code == 500
    assert response.json() == {"detail": "Authentication failed because of an internal error."}


def test_repeated_authorization_header_is_refused(tmp_path):
    class ReadsAuthorization:
        @authhub.hookimpl
        def authenticate(self, request: authhub.Request) -> Any:
            return (authhub.User(1, "x"), None) if request.authorization else None

    hub = AuthHub(
        directory=tmp_path,
        environ={},
        load_entry_points=False,
        plugins={"auth": ReadsAuthorization()},
        schemes=["auth"],
    )
    request = authhub.Request("GET", "/", [("Authorization", "A"), ("Authorization", "B")], hub=hub)
    with pytest.raises(authhub.BadRequest):
        request.user


def test_unknown_path_and_method(tmp_path, schemes):
    client = client_for(tmp_path, schemes)
    assert client.get("/nope").status_code == 404
    response = client.delete("/whoami")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_route_conflict_between_plugins_is_a_configuration_error(tmp_path):
    from authhub import Route

    class Clash:
        @authhub.hookimpl
        def serve_routes(self) -> list[Route]:
            return [Route("/whoami", lambda request: authhub.Response())]

    hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, plugins={"clash": Clash()})
    with pytest.raises(authhub.ConfigurationError, match="'/whoami' of plugin 'clash'"):
        make_app(hub)


def test_plugin_routes_are_served(tmp_path):
    from authhub import Route

    class Hello:
        @authhub.hookimpl
        def serve_routes(self) -> list[Route]:
            return [Route("/hello", lambda request: authhub.Response.json({"hi": request.method}), ("GET", "POST"))]

    client = client_for(tmp_path, {"hello": Hello()})
    assert client.post("/hello").json() == {"hi": "POST"}
