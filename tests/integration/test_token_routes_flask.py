"""The token endpoints mounted in a Flask application (``hub_blueprint``), with the real Basic scheme.

Flask and Basic are not in tox's ``token`` environment; its ``all``
environment has them and runs this.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import flask
import pytest

import authhub
from authhub.contrib.flask import FlaskAuth, current_user, hub_blueprint

PASSWORD = "correct horse battery staple"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()}


@pytest.fixture
def client(authhub_make_hub: Callable[..., authhub.AuthHub]) -> flask.testing.FlaskClient:
    hub = authhub_make_hub(schemes=["token", "basic"])
    hub.users.create("alice", PASSWORD)
    app = flask.Flask(__name__)
    FlaskAuth(app, hub=hub)
    app.register_blueprint(hub_blueprint(hub))

    @app.get("/me")
    def me() -> dict[str, str]:
        return {"user": current_user.username if current_user.is_authenticated else ""}

    return app.test_client()


def test_create_list_and_log_out_in_a_flask_application(client: flask.testing.FlaskClient) -> None:
    made = client.post("/tokens", json={"name": "flask", "expires": "1d"}, headers=BASIC)
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    key = made.get_json()["key"]
    token = {"Authorization": f"Token {key}"}
    assert client.get("/me", headers=token).get_json() == {"user": "alice"}
    assert [item["name"] for item in client.get("/tokens", headers=token).get_json()] == ["flask"]

    refused = client.post("/tokens", json={"name": "more"}, headers=token)
    assert refused.status_code == 403

    assert client.post("/tokens/logout", headers=token).status_code == 204
    gone = client.get("/tokens", headers=token)
    assert gone.status_code == 401
    assert gone.get_json() == {"detail": "Invalid token."}


def test_refusals_are_the_cores_in_flask_too(client: flask.testing.FlaskClient) -> None:
    anonymous = client.post("/tokens", json={"name": "x"})
    assert anonymous.status_code == 401
    assert anonymous.headers.getlist("WWW-Authenticate") == ["Token", 'Basic realm="api", charset="UTF-8"']
    bad = client.post("/tokens", json={"expires": "2y"}, headers=BASIC)
    assert bad.status_code == 400
    assert bad.get_json()["detail"].startswith("expires: '2y' is not a duration")
    page = client.get("/account/tokens")
    assert (page.status_code, page.headers["Location"]) == (303, "/login?next=/account/tokens")
