"""The login pages as people see them: layout, stylesheet, labels, alerts, and an application's own templates."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

import authhub

from .conftest import PASSWORD, login_form_token, sign_in


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def controls(self) -> list[dict[str, str | None]]:
        """The form controls a person fills in (not the hidden ones)."""
        return [attrs for tag, attrs in self.tags
                if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden"]

    def labelled(self) -> set[str | None]:
        return {attrs.get("for") for tag, attrs in self.tags if tag == "label"}


def assert_a_page_people_can_use(response: httpx.Response) -> Tags:
    """Viewport, the one stylesheet allowed by its hash, a label for every control."""
    text = response.text
    tags = Tags(text)
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in tags.tags
    styles = re.findall(r"<style>(.*?)</style>", text, re.S)
    assert len(styles) == 1 and styles[0]
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in response.headers["content-security-policy"]
    assert "style=" not in text  # no inline style attribute: the policy would block it
    assert response.headers["referrer-policy"] == "same-origin"
    for control in tags.controls():
        assert control.get("id") in tags.labelled(), control
    return tags


@pytest.fixture
def serve(authhub_make_hub: Callable[..., authhub.AuthHub],
          authhub_live_server: Callable[[authhub.AuthHub], str]) -> Iterator[Callable[..., httpx.Client]]:
    """``serve(**settings)``: an httpx client on a live session-only hub with alice."""
    clients: list[httpx.Client] = []

    def start(**settings: object) -> httpx.Client:
        hub = authhub_make_hub(schemes=["session"], **settings)
        hub.users.create("alice", PASSWORD)
        clients.append(httpx.Client(base_url=authhub_live_server(hub), follow_redirects=False, timeout=10))
        return clients[-1]

    yield start
    for client in clients:
        client.close()


def test_every_page_has_the_viewport_the_stylesheet_and_labels(serve: Callable[..., httpx.Client]) -> None:
    live = serve()
    login = live.get("/login")
    tags = assert_a_page_people_can_use(login)
    assert [control.get("name") for control in tags.controls()] == ["username", "password"]
    assert_a_page_people_can_use(live.get("/"))
    sign_in(live)
    home = live.get("/")
    assert_a_page_people_can_use(home)
    assert '<strong id="username">alice</strong>' in home.text


@pytest.mark.parametrize(("password", "status", "message"), [
    ("wrong", 200, "Invalid username/password."),
    ("", 400, "Enter your username and password."),
])
def test_an_error_is_announced_and_tied_to_the_fields(
    serve: Callable[..., httpx.Client], password: str, status: int, message: str
) -> None:
    live = serve()
    response = sign_in(live, password=password)
    assert response.status_code == status
    tags = assert_a_page_people_can_use(response)
    assert f'<p class="error" role="alert" id="login-error">{message}</p>' in response.text
    for control in tags.controls():
        assert control.get("aria-describedby") == "login-error" and control.get("aria-invalid") == "true"
    assert 'value="alice"' in response.text  # the username is kept


def test_what_a_user_typed_is_escaped_on_the_form(serve: Callable[..., httpx.Client]) -> None:
    live = serve()
    response = sign_in(live, username='"><script>alert(1)</script>', password="x")
    assert "<script>" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text


@pytest.fixture
def app_templates(tmp_path: Path) -> Path:
    """An application's own login page (its own words, the same form fields) and layout."""
    directory = tmp_path / "app-templates"
    directory.mkdir()
    (directory / "login.html").write_text(
        '{% extends "base.html" %}{% block content %}'
        '<h1 id="app-login">Sign in to Example Corp</h1>'
        '{% if error %}<p role="alert">Sorry: {{ error }}</p>{% endif %}'
        '<form method="post" action="{{ action }}">'
        '<input type="hidden" name="{{ csrf_field }}" value="{{ csrf_token }}">'
        '<input type="hidden" name="next" value="{{ next }}">'
        '<label for="u">E-mail</label><input id="u" name="username" value="{{ username }}">'
        '<label for="p">Secret</label><input id="p" name="password" type="password">'
        '<button>Go</button></form>{% endblock %}'
    )
    (directory / "base.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{{ title }} - Example Corp</title><style>{{ stylesheet }}</style></head>"
        '<body><header id="brand">Example Corp</header><main>{% block content %}{% endblock %}</main></body></html>'
    )
    return directory


def test_an_applications_login_html_is_used(serve: Callable[..., httpx.Client], app_templates: Path) -> None:
    live = serve(templates_dir=str(app_templates))
    page = live.get("/login", params={"next": "/protected"})

    assert page.status_code == 200
    assert '<h1 id="app-login">Sign in to Example Corp</h1>' in page.text
    assert '<header id="brand">Example Corp</header>' in page.text  # its layout too
    assert "<title>Sign in - Example Corp</title>" in page.text
    assert_a_page_people_can_use(page)
    wrong = sign_in(live, password="wrong")
    assert '<p role="alert">Sorry: Invalid username/password.</p>' in wrong.text
    # the application's form signs in exactly as the built-in one: login CSRF, next, the session cookie
    token = login_form_token(live.get("/login").text)
    answer = live.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/protected",
                                       "csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/protected"
    assert live.get("/whoami").json()["user"] == "alice"
    # a page it does not replace keeps the built-in template, inside the application's layout
    home = live.get("/")
    assert '<header id="brand">Example Corp</header>' in home.text
    assert '<strong id="username">alice</strong>' in home.text


@pytest.mark.parametrize(("target", "location"), [
    ("/oauth/authorize?client_id=x&scope=read", "/oauth/authorize?client_id=x&scope=read"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    (None, "/"),
])
def test_logout_goes_to_a_local_next(serve: Callable[..., httpx.Client], target: str | None, location: str) -> None:
    live = serve()
    sign_in(live)
    token = re.search(r'name="csrf_token" value="([^"]+)"', live.get("/").text)
    assert token is not None
    form = {"csrf_token": token.group(1), **({"next": target} if target is not None else {})}
    answer = live.post("/logout", data=form)
    assert answer.status_code == 303
    assert answer.headers["location"] == location
    assert live.get("/whoami").json()["authenticated"] is False
