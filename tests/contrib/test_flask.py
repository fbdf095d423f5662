"""The Flask extension against a real Flask application and its test client."""

from __future__ import annotations

from typing import Any

import flask
import pytest

import authhub
from authhub.contrib.flask import (
    FlaskAnonymousUser,
    FlaskAuth,
    FlaskUser,
    current_auth,
    current_identity,
    current_user,
    hub_blueprint,
    login_required,
)

from .conftest import login_form_fields

TEMPLATE = (
    "{% if current_user.is_authenticated %}signed in as {{ current_user.username }} "
    "(id {{ current_user.get_id() }}){% else %}anonymous: {{ current_user.is_anonymous }} "
    "{{ current_user.get_id() }}{% endif %}"
)


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

    @app.get("/page")
    def page() -> Any:
        return flask.render_template_string(TEMPLATE)

    @app.get("/plain-page")
    def plain_page() -> Any:
        return flask.render_template_string("no user here")

    @app.get("/login-like")
    def login_like() -> Any:
        user = current_user._get_current_object()
        return {
            "type": type(user).__name__,
            "is_authenticated": user.is_authenticated,
            "is_active": user.is_active,
            "is_anonymous": user.is_anonymous,
            "get_id": user.get_id(),
        }

    return app


@pytest.fixture
def client(hub: authhub.AuthHub) -> Any:
    return make_app(hub).test_client()


def test_templates_see_current_user(client: Any, alice: Any, authhub_auth_headers: Any) -> None:
    signed_in = client.get("/page", headers=authhub_auth_headers(alice, "key"))
    assert signed_in.status_code == 200
    assert signed_in.text == f"signed in as alice (id {alice.id})"
    assert client.get("/page").text == "anonymous: True None"


def test_wrong_credentials_are_refused_when_a_template_reads_the_user(client: Any) -> None:
    assert client.get("/page", headers={"Authorization": "Key unknown"}).status_code == 401
    # A template that never reads current_user never runs the chain.
    assert client.get("/plain-page", headers={"Authorization": "Key unknown"}).status_code == 200


def test_current_user_is_what_flask_login_users_expect(client: Any, alice: Any, authhub_auth_headers: Any) -> None:
    assert client.get("/login-like", headers=authhub_auth_headers(alice, "pass")).json == {
        "type": "FlaskUser",
        "is_authenticated": True,
        "is_active": True,
        "is_anonymous": False,
        "get_id": str(alice.id),
    }
    assert client.get("/login-like").json == {
        "type": "FlaskAnonymousUser",
        "is_authenticated": False,
        "is_active": False,
        "is_anonymous": True,
        "get_id": None,
    }


def test_a_flask_user_is_the_store_user_underneath(alice: Any) -> None:
    user = FlaskUser(alice)
    assert user.authhub_user is alice
    assert (user.id, user.username, str(user)) == (alice.id, "alice", "alice")
    assert user.pk == alice.id  # any other attribute is the store user's
    assert user == FlaskUser(alice) and user != FlaskAnonymousUser()


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


def make_app_with_hub_routes(hub: authhub.AuthHub) -> flask.Flask:
    app = make_app(hub)
    app.register_blueprint(hub_blueprint(hub))
    return app


def test_the_session_login_page_signs_in_through_flask(session_hub: authhub.AuthHub, authhub_user: Any) -> None:
    authhub_user("dora", "dora's password", hub=session_hub)
    client = make_app_with_hub_routes(session_hub).test_client()
    page = client.get("/login?next=/open")
    assert page.status_code == 200
    assert page.content_type == "text/html; charset=utf-8"
    fields = login_form_fields(page.text)
    wrong = client.post("/login", data={**fields, "username": "dora", "password": "wrong"})
    assert "Invalid username/password." in wrong.text
    signed_in = client.post("/login", data={**fields, "username": "dora", "password": "dora's password"})
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/open"
    assert len(signed_in.headers.getlist("Set-Cookie")) == 2  # the session, and the login cookie cleared
    assert client.get("/open").json == {"user": "dora", "scheme": "session"}
    assert client.get("/").text.count('id="username">dora<') == 1  # the plugin's own home page


def test_plugin_routes_answer_like_authhub_serve(session_hub: authhub.AuthHub) -> None:
    client = make_app_with_hub_routes(session_hub).test_client()
    not_allowed = client.delete("/login")
    assert not_allowed.status_code == 405
    no_csrf = client.post("/login", data={"username": "dora", "password": "x"})
    assert no_csrf.status_code == 403
    assert no_csrf.json == {"detail": "CSRF Failed: CSRF cookie not set."}
    head = client.head("/login")
    assert head.status_code == 200 and head.data == b""
    with make_app_with_hub_routes(session_hub).test_request_context():
        assert flask.url_for("authhub.login") == "/login"
        metadata = "/.well-known/oauth-authorization-server"
        assert flask.url_for("authhub.well-known_oauth-authorization-server") == metadata


def test_the_blueprint_works_without_flask_auth(session_hub: authhub.AuthHub) -> None:
    app = flask.Flask(__name__)
    app.register_blueprint(hub_blueprint(session_hub))
    page = app.test_client().get("/login")
    assert page.status_code == 200
    assert 'name="password"' in page.text


def test_the_applications_own_routes_win_when_registered_first(session_hub: authhub.AuthHub) -> None:
    app = make_app(session_hub)

    @app.get("/")
    def own_home() -> Any:
        return {"home": "the application's"}

    app.register_blueprint(hub_blueprint(session_hub))
    client = app.test_client()
    assert client.get("/").json == {"home": "the application's"}
    assert client.get("/login").status_code == 200
