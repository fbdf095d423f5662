"""``hub.pages``: the templates of the pages people see, an application's first, and the headers of a page."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import jinja2
import pytest

import authhub
from authhub.pages import csp_source


def style_of(text: str) -> str:
    match = re.search(r"<style>(.*?)</style>", text, re.S)
    assert match is not None, text
    return match.group(1)


def digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """An application's templates directory with a page of its own that extends the core's layout."""
    directory = tmp_path / "templates"
    directory.mkdir()
    (directory / "hello.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Hello</h1><p id="name">{{ name }}</p>{% endblock %}'
    )
    return directory


def test_a_page_inlines_the_one_stylesheet_and_its_policy_allows_exactly_it(
    authhub_make_hub: Callable[..., authhub.AuthHub], templates: Path
) -> None:
    hub = authhub_make_hub(templates_dir=str(templates))
    page = hub.pages.render("hello.html", {"title": "Hello", "name": "<b>mallory</b>"}, package="authhub")

    text = page.body.decode()
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "<title>Hello - authhub</title>" in text
    assert '<p id="name">&lt;b&gt;mallory&lt;/b&gt;</p>' in text  # autoescaped
    core_css = (Path(authhub.__file__).parent / "templates" / "authhub.css").read_text()
    assert style_of(text) == core_css
    policy = page.header("Content-Security-Policy") or ""
    assert f"style-src 'sha256-{digest(core_css)}' 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "form-action 'self';" in policy and "'unsafe-inline'" not in policy
    assert page.header("Referrer-Policy") == "same-origin"
    assert page.header("Cache-Control") == "no-store"
    assert page.header("X-Frame-Options") == "DENY"


def test_an_applications_stylesheet_and_layout_replace_the_core_ones(
    authhub_make_hub: Callable[..., authhub.AuthHub], templates: Path
) -> None:
    (templates / "authhub.css").write_text("body{color:#123456}")
    (templates / "base.html").write_text(
        '<!doctype html><title>{{ title }}</title><style>{{ stylesheet }}</style>'
        '<header id="brand">Example Corp</header>{% block content %}{% endblock %}'
    )
    hub = authhub_make_hub(templates_dir=str(templates))
    page = hub.pages.render("hello.html", {"title": "Hello", "name": "alice"}, package="authhub")

    text = page.body.decode()
    assert '<header id="brand">Example Corp</header>' in text
    assert style_of(text) == "body{color:#123456}"
    assert f"'sha256-{digest('body{color:#123456}')}'" in (page.header("Content-Security-Policy") or "")


def test_a_stylesheet_that_would_close_its_style_element_is_refused(
    authhub_make_hub: Callable[..., authhub.AuthHub], templates: Path
) -> None:
    (templates / "authhub.css").write_text("</style><script>alert(1)</script>")
    hub = authhub_make_hub(templates_dir=str(templates))
    with pytest.raises(authhub.ConfigurationError, match="authhub.css"):
        hub.pages.render("hello.html", {"title": "Hello", "name": "alice"}, package="authhub")


def test_a_name_the_template_does_not_get_is_an_error_not_a_blank(
    authhub_make_hub: Callable[..., authhub.AuthHub], templates: Path
) -> None:
    hub = authhub_make_hub(templates_dir=str(templates))
    with pytest.raises(jinja2.UndefinedError, match="name"):
        hub.pages.render("hello.html", {"title": "Hello"}, package="authhub")


def test_templates_dir_is_relative_to_the_configuration_file(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "hello.html").write_text("{{ title }}!")
    (tmp_path / "authhub.toml").write_text('templates_dir = "pages"\n')
    hub = authhub.AuthHub(directory=tmp_path, environ={}, load_entry_points=False,
                          database_url=f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert hub.pages.templates_dir == tmp_path / "pages"
        assert hub.pages.render("hello.html", {"title": "Hi"}, package="authhub").body == b"Hi!"
    finally:
        hub.close()


@pytest.mark.parametrize("settings", [
    {"templates_dir": "no-such-directory"},
    {"environ": {"AUTHHUB_TEMPLATES_DIR": "no-such-directory"}},
], ids=["keyword", "environment"])
def test_a_templates_dir_that_is_not_a_directory_stops_the_hub(
    authhub_make_hub: Callable[..., authhub.AuthHub], settings: dict[str, object], tmp_path: Path
) -> None:
    with pytest.raises(authhub.ConfigurationError) as caught:
        authhub_make_hub(**settings)
    assert str(caught.value) == f"templates_dir: {str(tmp_path / 'no-such-directory')!r} is not a directory"


def test_form_targets_join_the_form_action_of_the_policy(
    authhub_make_hub: Callable[..., authhub.AuthHub], templates: Path
) -> None:
    hub = authhub_make_hub(templates_dir=str(templates))
    page = hub.pages.render("hello.html", {"title": "Hello", "name": "alice"}, package="authhub",
                            form_targets=["https://app.example:8443/callback?x=1"])
    assert "form-action 'self' https://app.example:8443;" in (page.header("Content-Security-Policy") or "")


@pytest.mark.parametrize(("url", "source"), [
    ("https://App.Example/callback", "https://app.example"),
    ("http://127.0.0.1:9/callback", "http://127.0.0.1:9"),
    ("http://[::1]:8080/cb", "http://[::1]:8080"),
    ("https://user@app.example/cb", "https://app.example"),
    ("com.example.app:/oauth2redirect", "com.example.app:"),
    # a host no source can name exactly (it would end the directive): the scheme alone
    ("https://a;script-src%20*/cb", "https:"),
    ("https://app.example:99999/cb", "https:"),
])
def test_csp_source(url: str, source: str) -> None:
    assert csp_source(url) == source


def test_csp_source_needs_an_absolute_url() -> None:
    with pytest.raises(ValueError, match="not an absolute URL"):
        csp_source("/callback")


def test_a_redirect_from_a_page_is_not_cached_and_keeps_its_referrer_on_the_site(
    authhub_make_hub: Callable[..., authhub.AuthHub]
) -> None:
    response = authhub_make_hub().pages.redirect("/next", headers=[("Set-Cookie", "a=b")])
    assert response.status == 303
    assert response.headers == [("Location", "/next"), ("Cache-Control", "no-store"),
                                ("Referrer-Policy", "same-origin"), ("Set-Cookie", "a=b")]


def test_the_docs_page_shows_small_screenshots_that_exist() -> None:
    docs = Path(__file__).parent.parent / "docs"
    shown = re.findall(r"!\[[^\]]+\]\((images/[^)]+\.png)\)", (docs / "pages.md").read_text())
    assert shown == ["images/pages-login.png", "images/pages-consent.png", "images/pages-consent-phone.png",
                     "images/pages-tokens.png"]
    for name in shown:
        data = (docs / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert len(data) < 40_000, f"{name}: {len(data)} bytes"
