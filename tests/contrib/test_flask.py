"""The Flask extension against a real Flask application and its test client."""

from __future__ import annotations

from typing import Any

import flask
import pytest

import authhub
from authhub.contrib.flask import FlaskAuth, current_auth, current_identity, current_user, login_required


def make_app(hub: authhub.AuthHub) -> flask.Flask:
    app = flask.Flask(__name__)
    FlaskAuth(app, hub=hub)

    @app.get("/open")
    def open_view() -> Any:
        return {"user": current_user.username, "scheme": current_identity.scheme}

    @app.get("/private")
    @login_required
    def private() -> Any:
        return {"user": current_user.username, "key_id": getattr(current_auth, "key_id", None)}

    @app.get("/pass-only")
    @login_required(schemes=["pass"])
    def pass_only() -> Any:
        return {"user": current_user.username, "scheme": current_identity.scheme}

    @app.get("/untouched")
    def untouched() -> Any:
        return {"ok": True}

    return app


@pytest.fixture
def client(hub: authhub.AuthHub) -> Any:
    return make_app(hub).test_client()


def test_anonymous_reaches_an_open_view_as_the_anonymous_user(client: Any) -> None:
    response = client.get("/open")
    assert response.status_code == 200
    assert response.json == {"user": None, "scheme": None}


def test_login_required_refuses_anonymous_with_every_challenge(client: Any) -> None:
    response = client.get("/private")
    assert response.status_code == 401
    assert response.json == {"detail": "Authentication credentials were not provided."}
    assert response.headers.getlist("WWW-Authenticate") == ['Key realm="tests"', "Pass"]


def test_good_credentials_of_either_scheme_pass(client: Any, alice: Any, authhub_auth_headers: Any) -> None:
    by_key = client.get("/private", headers=authhub_auth_headers(alice, "key"))
    by_password = client.get("/private", headers=authhub_auth_headers(alice, "pass"))
    assert by_key.status_code == 200
    assert by_key.json == {"user": "alice", "key_id": 1}
    assert by_password.json == {"user": "alice", "key_id": None}


def test_wrong_credentials_are_refused_even_on_an_open_view(client: Any, alice: Any) -> None:
    response = client.get("/open", headers={"Authorization": "Pass alice:wrong"})
    assert response.status_code == 401
    assert response.json == {"detail": "Invalid username/password."}
    assert response.headers.getlist("WWW-Authenticate") == ['Key realm="tests"', "Pass"]


def test_a_view_that_never_asks_does_not_run_the_chain(client: Any) -> None:
    response = client.get("/untouched", headers={"Authorization": "Key unknown"})
    assert response.status_code == 200


def test_per_view_schemes_ignore_other_credentials_and_challenge_only_their_own(
    client: Any, alice: Any, authhub_auth_headers: Any
) -> None:
    refused = client.get("/pass-only", headers=authhub_auth_headers(alice, "key"))
    assert refused.status_code == 401
    assert refused.headers.getlist("WWW-Authenticate") == ["Pass"]
    accepted = client.get("/pass-only", headers=authhub_auth_headers(alice, "pass"))
    assert accepted.json == {"user": "alice", "scheme": "pass"}


def test_no_challenge_in_the_chain_means_403(authhub_make_hub: Any, authhub_user: Any) -> None:
    class Silent:
        @authhub.hookimpl
        def authenticate(self, request: authhub.Request) -> None:
            return None

    hub = authhub_make_hub(load_entry_points=False, plugins={"silent": Silent()}, schemes=["silent"])
    response = make_app(hub).test_client().get("/private")
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers


def test_other_authhub_errors_keep_their_status(authhub_make_hub: Any) -> None:
    class Locked:
        @authhub.hookimpl
        def authenticate(self, request: authhub.Request) -> None:
            raise authhub.TooManyRequests(retry_after=30)

    hub = authhub_make_hub(load_entry_points=False, plugins={"locked": Locked()}, schemes=["locked"])
    response = make_app(hub).test_client().get("/private", headers={"Authorization": "x"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"


def test_headers_a_scheme_asks_for_reach_the_response(authhub_make_hub: Any, authhub_user: Any) -> None:
    class Expiring:
        @authhub.hookimpl
        def authenticate(self, request: authhub.Request) -> None:
            request.add_response_header("Set-Cookie", "old=; Max-Age=0")
            return None

    hub = authhub_make_hub(load_entry_points=False, plugins={"expiring": Expiring()}, schemes=["expiring"])
    response = make_app(hub).test_client().get("/open")
    assert response.headers.getlist("Set-Cookie") == ["old=; Max-Age=0"]


def test_init_app_builds_the_hub_from_app_config(tmp_path: Any, key_scheme: Any) -> None:
    app = flask.Flask(__name__)
    app.config["AUTHHUB"] = {
        "directory": tmp_path,
        "environ": {},
        "load_entry_points": False,
        "plugins": {"key": key_scheme},
        "database_url": f"sqlite:///{tmp_path / 'app.db'}",
    }
    extension = FlaskAuth()
    hub = extension.init_app(app)
    assert app.extensions["authhub"] is hub
    assert hub.schemes == ("key",)


def test_reading_the_user_outside_an_initialised_app_says_so() -> None:
    app = flask.Flask(__name__)
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="FlaskAuth is not initialised"):
        _ = current_user.username


def test_real_token_plugin_protects_a_flask_view(
    token_hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    client = make_app(token_hub).test_client()
    bob = authhub_user("bob", hub=token_hub)
    assert client.get("/private").status_code == 401
    assert client.get("/private", headers={"Authorization": "Token not-a-real-key"}).status_code == 401
    response = client.get("/private", headers=authhub_auth_headers(bob, "token"))
    assert response.status_code == 200
    assert response.json["user"] == "bob"


def test_real_token_and_basic_plugins_in_one_chain(
    authhub_make_hub: Any, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    hub = authhub_make_hub(schemes=["token", "basic"])
    client = make_app(hub).test_client()
    carol = authhub_user("carol", hub=hub)
    refused = client.get("/private")
    assert [line.split()[0] for line in refused.headers.getlist("WWW-Authenticate")] == ["Token", "Basic"]
    for scheme in ("token", "basic"):
        response = client.get("/open", headers=authhub_auth_headers(carol, scheme))
        assert response.json == {"user": "carol", "scheme": scheme}
