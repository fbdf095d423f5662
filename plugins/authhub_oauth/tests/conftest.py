"""Fixtures: a hub with the oauth scheme, registered clients, a live server and a browser login."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from authhub import AuthHub
from authhub_oauth.clients import create_client

PASSWORD = "correct horse battery staple"
REDIRECT_URI = "http://127.0.0.1:9/callback"


@pytest.fixture
def hub(authhub_make_hub: Callable[..., AuthHub]) -> AuthHub:
    """The oauth scheme first, then the session scheme for the consent page."""
    return authhub_make_hub(schemes=["oauth", "session"])


@pytest.fixture
def alice(hub: AuthHub) -> Any:
    return hub.users.create("alice", PASSWORD)


@pytest.fixture
def service(hub: AuthHub) -> tuple[str, str]:
    """A confidential client-credentials client with scopes read and write."""
    client, secret = create_client(hub, name="Reporting service", grant_types=["client_credentials"],
                                   scopes=["read", "write"])
    assert secret is not None
    return client.client_id, secret


@pytest.fixture
def webapp(hub: AuthHub) -> tuple[str, str]:
    """A confidential code-flow client with refresh tokens."""
    client, secret = create_client(hub, name="Web app", grant_types=["authorization_code", "refresh_token"],
                                   redirect_uris=[REDIRECT_URI], scopes=["read", "write"])
    assert secret is not None
    return client.client_id, secret


@pytest.fixture
def spa(hub: AuthHub) -> str:
    """A public code-flow client (PKCE required)."""
    client, secret = create_client(hub, name="Single-page app", grant_types=["authorization_code", "refresh_token"],
                                   redirect_uris=[REDIRECT_URI], scopes=["read"], public=True)
    assert secret is None
    return client.client_id


@pytest.fixture
def base(hub: AuthHub, authhub_live_server: Callable[[AuthHub], str]) -> str:
    return authhub_live_server(hub)


def hidden_field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name!r} on the page"
    return match.group(1).replace("&amp;", "&")


class Browser:
    """A user agent: keeps cookies, follows nothing on its own, logs in through the real pages."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def get(self, url: str) -> requests.Response:
        return self.http.get(urljoin(self.base, url), allow_redirects=False, timeout=10)

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        return self.http.post(urljoin(self.base, url), data=data, allow_redirects=False, timeout=10)

    def login_at(self, login_location: str, username: str, password: str) -> str:
        """Sign in on the session plugin's login page; return where it sends us next."""
        page = self.get(login_location)
        assert page.status_code == 200, page.text
        answer = self.post("/login", {
            "csrf_token": hidden_field(page.text, "csrf_token"),
            "next": hidden_field(page.text, "next"),
            "username": username,
            "password": password,
        })
        assert answer.status_code in (302, 303), answer.text
        return answer.headers["Location"]

    def authorize(self, url: str, *, username: str = "alice", password: str = PASSWORD,
                  decision: str = "allow") -> requests.Response:
        """Open the authorization URL, log in when asked, answer the consent page; return the redirect."""
        answer = self.get(url)
        if answer.status_code == 303 and answer.headers["Location"].startswith("/login"):
            answer = self.get(self.login_at(answer.headers["Location"], username, password))
        assert answer.status_code == 200, answer.text
        assert "Authorize" in answer.text
        return self.post(url, {"csrf_token": hidden_field(answer.text, "csrf_token"),
                               "consent_binding": hidden_field(answer.text, "consent_binding"), "decision": decision})


@pytest.fixture
def browser(base: str) -> Browser:
    return Browser(base)
