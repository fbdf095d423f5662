"""Plugin routes with ``{name}`` segments (``/tokens/{id}``) answer through every framework mount."""

from __future__ import annotations

from typing import Any

import flask
import httpx
import pytest
from django.test import Client, override_settings
from starlette.applications import Starlette
from starlette.testclient import TestClient

import authhub
from authhub.contrib.django import hub_urlpatterns
from authhub.contrib.flask import hub_blueprint
from authhub.contrib.starlette import hub_routes
from authhub.server import make_app


def show_thing(request: authhub.Request) -> authhub.Response:
    params = request.state["path_params"]
    return authhub.Response.json({"thing": params["thing_id"], "method": request.method})


class Things:
    """A plugin serving ``/things/{thing_id}`` for GET and DELETE."""

    @authhub.hookimpl
    def serve_routes(self) -> list[authhub.Route]:
        return [authhub.Route("/things/{thing_id}", show_thing, ("GET", "DELETE"))]


@pytest.fixture
def hub(authhub_make_hub: Any) -> authhub.AuthHub:
    return authhub_make_hub(load_entry_points=False, plugins={"things": Things()})


def check(get: Any, delete: Any) -> None:
    assert get("/things/42") == (200, {"thing": "42", "method": "GET"})
    assert delete("/things/a-b_c") == (200, {"thing": "a-b_c", "method": "DELETE"})
    assert get("/things/1/more")[0] == 404


def test_reference_server(hub: authhub.AuthHub) -> None:
    with httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://t") as client:
        def ask(method: str, path: str) -> tuple[int, Any]:
            response = client.request(method, path)
            return response.status_code, response.json()
        check(lambda path: ask("GET", path), lambda path: ask("DELETE", path))


def test_flask_blueprint(hub: authhub.AuthHub) -> None:
    app = flask.Flask(__name__)
    app.register_blueprint(hub_blueprint(hub))
    client = app.test_client()

    def ask(method: str, path: str) -> tuple[int, Any]:
        response = client.open(path, method=method)
        return response.status_code, response.get_json(silent=True)

    check(lambda path: ask("GET", path), lambda path: ask("DELETE", path))


def test_starlette_routes(hub: authhub.AuthHub) -> None:
    client = TestClient(Starlette(routes=hub_routes(hub)))

    def ask(method: str, path: str) -> tuple[int, Any]:
        response = client.request(method, path)
        return response.status_code, response.json() if response.status_code == 200 else None

    check(lambda path: ask("GET", path), lambda path: ask("DELETE", path))


def test_django_urlpatterns(hub: authhub.AuthHub) -> None:
    with override_settings(AUTHHUB=hub):

        class URLS:
            urlpatterns = hub_urlpatterns()

        with override_settings(ROOT_URLCONF=URLS):
            client = Client()

            def ask(method: str, path: str) -> tuple[int, Any]:
                response = client.generic(method, path)
                return response.status_code, response.json() if response.status_code == 200 else None

            check(lambda path: ask("GET", path), lambda path: ask("DELETE", path))
