"""``GET /auth/verify`` of the reference server (``authhub serve``), over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import authhub


class Recorder:
    """A scheme that lets everyone with ``X-User`` in, remembering what it was shown."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []
        self.clients: list[tuple[str | None, str]] = []

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> Any:
        self.seen.append((request.method, request.path, request.query_string, request.host))
        self.clients.append((request.client, request.url_scheme))
        name = request.headers.get_all("x-user")
        return (hub.users.get_by_username(name[0]), None) if name else None


@pytest.fixture
def base(hub: authhub.AuthHub, authhub_live_server: Any) -> str:
    return authhub_live_server(hub)


def test_missing_credentials_get_401_with_every_challenge(base: str) -> None:
    response = httpx.get(f"{base}/auth/verify")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers.get_list("www-authenticate") == ['Key realm="tests"', "Pass"]
    assert "x-authhub-user" not in response.headers


def test_wrong_credentials_get_401(base: str, alice: Any) -> None:
    response = httpx.get(f"{base}/auth/verify", headers={"Authorization": "Pass alice:nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username/password."}
    assert "x-authhub-user" not in response.headers


def test_good_credentials_get_200_with_user_and_scheme(base: str, alice: Any, authhub_auth_headers: Any) -> None:
    response = httpx.get(f"{base}/auth/verify", headers=authhub_auth_headers(alice, "key"))
    assert response.status_code == 200
    assert response.headers["x-authhub-user"] == "alice"
    assert response.headers["x-authhub-scheme"] == "key"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"authenticated": True, "user": "alice", "scheme": "key"}


def test_every_method_and_head_are_answered(base: str, alice: Any, authhub_auth_headers: Any) -> None:
    headers = authhub_auth_headers(alice, "pass")
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"):
        response = httpx.request(method, f"{base}/auth/verify", headers=headers)
        assert (method, response.status_code, response.headers["x-authhub-user"]) == (method, 200, "alice")
    assert httpx.head(f"{base}/auth/verify").status_code == 401


def test_a_user_name_outside_ascii_is_percent_encoded(
    base: str, hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    zoe = authhub_user("zoë/bar", hub=hub)  # RFC 8265 user names have no spaces (issue 14)
    response = httpx.get(f"{base}/auth/verify", headers=authhub_auth_headers(zoe, "key"))
    assert response.headers["x-authhub-user"] == "zo%C3%AB%2Fbar"


def recording_hub(authhub_make_hub: Any, authhub_user: Any, **settings: Any) -> tuple[authhub.AuthHub, Recorder]:
    recorder = Recorder()
    hub = authhub_make_hub(load_entry_points=False, plugins={"recorder": recorder}, schemes=["recorder"], **settings)
    authhub_user("alice", hub=hub)
    return hub, recorder


def test_a_trusted_proxy_says_which_request_it_asks_about(
    authhub_make_hub: Any, authhub_user: Any, authhub_live_server: Any
) -> None:
    hub, recorder = recording_hub(authhub_make_hub, authhub_user, trusted_proxies=["127.0.0.1"])
    base = authhub_live_server(hub)
    nginx_style = {"X-User": "alice", "X-Original-Method": "POST", "X-Original-URI": "/api/items?page=2"}
    traefik_style = {
        "X-User": "alice",
        "X-Forwarded-Method": "DELETE",
        "X-Forwarded-Uri": "/api/items/7",
        "X-Forwarded-Host": "app.example",
    }
    assert httpx.get(f"{base}/auth/verify", headers=nginx_style).status_code == 200
    assert httpx.get(f"{base}/auth/verify", headers=traefik_style).status_code == 200
    host = base.removeprefix("http://")
    assert recorder.seen == [("POST", "/api/items", "page=2", host), ("DELETE", "/api/items/7", "", "app.example")]


def test_from_anyone_else_only_an_unsafe_method_is_believed(
    authhub_make_hub: Any, authhub_user: Any, authhub_live_server: Any
) -> None:
    hub, recorder = recording_hub(authhub_make_hub, authhub_user)
    base = authhub_live_server(hub)
    claims = {"X-User": "alice", "X-Original-URI": "/elsewhere", "X-Forwarded-Host": "evil.example"}
    httpx.post(f"{base}/auth/verify", headers={**claims, "X-Original-Method": "GET"})
    httpx.get(f"{base}/auth/verify", headers={**claims, "X-Original-Method": "POST"})
    host = base.removeprefix("http://")
    # A forged safe method cannot skip a scheme's CSRF check; a claimed unsafe one only adds it.
    assert recorder.seen == [("POST", "/auth/verify", "", host), ("POST", "/auth/verify", "", host)]


def test_x_forwarded_for_and_proto_count_only_from_a_trusted_proxy(
    authhub_make_hub: Any, authhub_user: Any, authhub_live_server: Any, tmp_path: Any
) -> None:
    headers = {"X-User": "alice", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    trusted, trusted_recorder = recording_hub(authhub_make_hub, authhub_user, trusted_proxies=["127.0.0.0/8"])
    httpx.get(f"{authhub_live_server(trusted)}/auth/verify", headers=headers)
    assert trusted_recorder.clients == [("203.0.113.7", "https")]
    untrusted, untrusted_recorder = recording_hub(
        authhub_make_hub, authhub_user, database_url=f"sqlite:///{tmp_path / 'other.db'}"
    )
    httpx.get(f"{authhub_live_server(untrusted)}/auth/verify", headers=headers)
    assert untrusted_recorder.clients == [("127.0.0.1", "http")]
