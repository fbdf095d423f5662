"""Routes of the reference server: exact paths and ``{name}`` patterns."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import authhub
from authhub import AuthHub, Route
from authhub.server import make_app


def echo(request: authhub.Request) -> authhub.Response:
    return authhub.Response.json({"route": "pattern", "params": request.state["path_params"]})


def exact(request: authhub.Request) -> authhub.Response:
    return authhub.Response.json({"route": "exact", "params": request.state.get("path_params")})


class Items:
    @authhub.hookimpl
    def serve_routes(self) -> list[Route]:
        return [
            Route("/items/{item}", echo, ("GET", "DELETE")),
            Route("/items/special", exact, ("POST",)),
            Route("/shelves/{shelf}/items/{item}", echo),
        ]


@pytest.fixture
def client(tmp_path: Path) -> httpx.Client:
    hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, plugins={"items": Items()},
                  database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    return httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://testserver")


def test_a_pattern_hands_the_segment_to_the_handler(client: httpx.Client) -> None:
    assert client.get("/items/42").json() == {"route": "pattern", "params": {"item": "42"}}
    assert client.delete("/items/a.b").json() == {"route": "pattern", "params": {"item": "a.b"}}
    assert client.get("/shelves/3/items/7").json() == {"route": "pattern", "params": {"shelf": "3", "item": "7"}}


def test_an_exact_path_wins_over_a_pattern_that_matches_it(client: httpx.Client) -> None:
    assert client.post("/items/special").json() == {"route": "exact", "params": None}
    # only the exact route's methods count for its path
    response = client.get("/items/special")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_placeholder_matches_one_non_empty_segment(client: httpx.Client) -> None:
    for path in ("/items/", "/items/1/2", "/items", "/items/1/", "/shelves/3/items/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}


def test_a_pattern_route_refuses_other_methods(client: httpx.Client) -> None:
    response = client.post("/items/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, DELETE"


def test_route_match() -> None:
    route = Route("/tokens/{id}", echo, ("DELETE",))
    assert route.match("/tokens/9") == {"id": "9"}
    assert route.match("/tokens/9/") is None
    assert route.match("/tokens/{id}") == {"id": "{id}"}
    assert Route("/login", exact).match("/login") == {}
    assert Route("/login", exact).match("/login/") is None
    assert Route("/login", exact).pattern is None


@pytest.mark.parametrize(("path", "message"), [
    ("/a/{b", "a placeholder is a whole segment"),
    ("/a/{1}", "a placeholder is a whole segment"),
    ("/a/x{y}", "a placeholder is a whole segment"),
    ("/a/{x}{y}", "a placeholder is a whole segment"),
    ("/a/{x}/{x}", "placeholder {x} appears twice"),
])
def test_a_malformed_pattern_is_refused(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Route(path, echo)


def test_the_same_pattern_from_two_plugins_is_a_configuration_error(tmp_path: Path) -> None:
    class Again:
        @authhub.hookimpl
        def serve_routes(self) -> list[Route]:
            return [Route("/items/{item}", exact)]

    hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False,
                  plugins={"items": Items(), "again": Again()}, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(authhub.ConfigurationError, match="'/items/{item}' of plugin 'again'"):
        make_app(hub)
