"""The token endpoints and the account page with the real Basic and session schemes.

Those schemes are other distributions: tox's ``token`` environment has
authhub-token alone (see ``test_token_routes.py``), its ``all`` environment
has every distribution and runs these.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import authhub
import authhub_token
from authhub.server import make_app

PASSWORD = "correct horse battery staple"
HIDDEN_CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


def basic(name: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


class Site:
    def __init__(self, hub: authhub.AuthHub) -> None:
        self.hub = hub
        self.client = httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://testserver")
        self.alice = hub.users.create("alice", PASSWORD)
        self.bob = hub.users.create("bob", PASSWORD)

    def session(self, user: Any = None) -> dict[str, str]:
        """A signed-in session: its ``Cookie`` and its ``X-CSRF-Token``."""
        headers = self.hub.auth_headers("session", user or self.alice)
        assert headers is not None
        return headers

    def whoami(self, key: str) -> httpx.Response:
        return self.client.get("/whoami", headers={"Authorization": f"Token {key}"})

    def page(self, cookie: dict[str, str]) -> tuple[httpx.Response, str]:
        """The account page and a CSRF token from one of its forms."""
        response = self.client.get("/account/tokens", headers=cookie)
        assert response.status_code == 200, response.text
        return response, HIDDEN_CSRF.findall(response.text)[0]


@pytest.fixture
def site(authhub_make_hub: Callable[..., authhub.AuthHub]) -> Site:
    return Site(authhub_make_hub(schemes=["token", "basic", "session"]))


def cookie_only(headers: dict[str, str]) -> dict[str, str]:
    return {"Cookie": headers["Cookie"]}


# -- the JSON endpoints -------------------------------------------------------------------


def test_basic_credentials_create_a_token(site: Site) -> None:
    response = site.client.post("/tokens", json={"name": "ci", "scopes": ["deploy"]}, headers=basic())
    assert response.status_code == 201
    assert site.whoami(response.json()["key"]).json()["user"] == "alice"
    wrong = site.client.post("/tokens", json={"name": "ci"}, headers=basic(password="wrong"))
    assert wrong.status_code == 401
    assert wrong.headers.get_list("www-authenticate") == ["Token", 'Basic realm="api", charset="UTF-8"']
    assert [record.name for record in authhub_token.list_tokens(site.hub)] == ["ci"]


def test_a_session_creates_with_its_csrf_token_only(site: Site) -> None:
    session = site.session()
    refused = site.client.post("/tokens", json={"name": "ci"}, headers=cookie_only(session))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF Failed: CSRF token missing."}
    assert authhub_token.list_tokens(site.hub) == []

    made = site.client.post("/tokens", json={"name": "ci"}, headers=session)
    assert made.status_code == 201
    assert site.whoami(made.json()["key"]).json()["user"] == "alice"


def test_a_session_revokes_with_its_csrf_token_only(site: Site) -> None:
    session = site.session()
    body = site.client.post("/tokens", json={"name": "ci"}, headers=session).json()
    for method, path in (("DELETE", f"/tokens/{body['id']}"), ("POST", "/tokens/logout-all")):
        refused = site.client.request(method, path, headers=cookie_only(session))
        assert refused.status_code == 403
        assert refused.json() == {"detail": "CSRF Failed: CSRF token missing."}
    assert site.whoami(body["key"]).status_code == 200

    listed = site.client.get("/tokens", headers=cookie_only(session))  # a safe method needs no CSRF token
    assert [item["id"] for item in listed.json()] == [body["id"]]
    assert site.client.post("/tokens/logout", headers=session).status_code == 400  # not a token
    assert site.client.delete(f"/tokens/{body['id']}", headers=session).status_code == 204
    assert site.whoami(body["key"]).status_code == 401


def test_a_token_beside_a_session_cookie_still_cannot_create(site: Site) -> None:
    key = authhub_token.create_token(site.hub, "alice", name="ci").key
    response = site.client.post("/tokens", json={"name": "more"},
                                headers={**site.session(), "Authorization": f"Token {key}"})
    assert response.status_code == 403  # the token answered first: the request is a token's
    assert len(authhub_token.list_tokens(site.hub)) == 1


# -- the account page ----------------------------------------------------------------------


def test_the_page_needs_a_session(site: Site) -> None:
    for headers in ({}, basic()):
        response = site.client.get("/account/tokens", headers=headers)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/account/tokens"


def test_the_page_lists_the_tokens_with_a_csrf_token_in_every_form(site: Site) -> None:
    authhub_token.create_token(site.hub, "alice", name="laptop", scopes=["read"])
    authhub_token.create_token(site.hub, "bob", name="bob's")
    response, _ = site.page(site.session())

    text = response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    style = re.search(r"<style>(.*?)</style>", text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in response.headers["content-security-policy"]
    forms = re.findall(r"<form .*?</form>", text, re.S)
    assert len(forms) == 2  # create, and revoke for the one token of alice
    assert all(HIDDEN_CSRF.search(form) for form in forms)
    for control in re.findall(r'<(?:input|select) id="([^"]+)"', text):
        assert f'<label for="{control}">' in text
    assert 'aria-label="Revoke token laptop"' in text
    assert "bob&#39;s" not in text and "bob&#x27;s" not in text and "bob's" not in text


def test_a_token_made_on_the_page_shows_its_key_once(site: Site) -> None:
    cookie = cookie_only(site.session())
    _, csrf = site.page(cookie)
    made = site.client.post("/account/tokens", headers=cookie, data={
        "csrf_token": csrf, "name": "<script>alert(1)</script>", "expires": "30d", "scopes": "read write"})

    assert made.status_code == 201
    key = re.search(r'<input id="new-key" type="text" readonly value="([^"]+)"', made.text)
    assert key is not None and re.fullmatch(authhub_token.PATTERN, key.group(1))
    assert "shown this once" in made.text
    assert "<script>" not in made.text
    assert html.escape("<script>alert(1)</script>") in made.text
    assert site.whoami(key.group(1)).json()["user"] == "alice"
    (record,) = authhub_token.list_tokens(site.hub, "alice")
    assert (record.name, sorted(record.scopes)) == ("<script>alert(1)</script>", ["read", "write"])

    again, _ = site.page(cookie)
    assert key.group(1) not in again.text
    assert 'id="new-key"' not in again.text


def test_a_bad_choice_on_the_page_is_explained_and_changes_nothing(site: Site) -> None:
    cookie = cookie_only(site.session())
    _, csrf = site.page(cookie)
    response = site.client.post("/account/tokens", headers=cookie, data={
        "csrf_token": csrf, "name": "ci", "expires": "never", "scopes": ""})
    assert response.status_code == 400
    assert ('<p class="error" role="alert" id="error">expires: &#39;never&#39; is out of range: a token made '
            "here lives at most 365d.</p>") in response.text
    assert 'value="ci"' in response.text  # what the user typed is kept
    assert authhub_token.list_tokens(site.hub) == []


def test_the_page_refuses_a_post_without_the_csrf_token(site: Site) -> None:
    cookie = cookie_only(site.session())
    response = site.client.post("/account/tokens", headers=cookie, data={"name": "ci"})
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF Failed: CSRF token missing."}
    assert authhub_token.list_tokens(site.hub) == []


def test_revoking_on_the_page(site: Site) -> None:
    mine = authhub_token.create_token(site.hub, "alice", name="laptop")
    bobs = authhub_token.create_token(site.hub, "bob", name="bob's")
    cookie = cookie_only(site.session())
    _, csrf = site.page(cookie)

    other = site.client.post("/account/tokens/revoke", headers=cookie, data={"csrf_token": csrf,
                                                                             "token_id": str(bobs.token.id)})
    assert other.status_code == 404
    assert "No such token" in other.text
    assert site.whoami(bobs.key).status_code == 200

    done = site.client.post("/account/tokens/revoke", headers=cookie, data={"csrf_token": csrf,
                                                                            "token_id": str(mine.token.id)})
    assert done.status_code == 200
    assert '<p class="notice" role="status" id="notice">Token “laptop” revoked.</p>' in done.text
    assert '<p id="no-tokens">You have no tokens.</p>' in done.text
    assert site.whoami(mine.key).status_code == 401

    forged = site.client.post("/account/tokens/revoke", headers=cookie, data={"token_id": str(bobs.token.id)})
    assert forged.status_code == 403
