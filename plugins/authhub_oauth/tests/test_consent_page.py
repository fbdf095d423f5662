"""The consent page as people see it, over plain HTTP: scope descriptions, "Not you?", headers, overrides."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

import authhub

from .conftest import REDIRECT_URI, Browser, hidden_field

DESCRIPTIONS = {"read": "See your profile", "write": "Change <b>everything</b>"}


@pytest.fixture
def hub(authhub_make_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    return authhub_make_hub(schemes=["oauth", "session"], oauth={"scope_descriptions": DESCRIPTIONS})


def authorization_url(base: str, webapp: tuple[str, str], scope: str = "read write") -> str:
    client = OAuth2Session(*webapp, scope=scope, redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=generate_token(64))
    return str(url)


def consent(browser: Browser, url: str) -> str:
    """Sign in when asked and return the consent page's HTML."""
    answer = browser.get(url)
    if answer.status_code == 303:
        answer = browser.get(browser.login_at(answer.headers["Location"], "alice", "correct horse battery staple"))
    assert answer.status_code == 200, answer.text
    return answer.text


def scope_items(page: str) -> list[str]:
    listed = re.search(r'<ul class="scopes" id="scopes">(.*?)</ul>', page, re.S)
    assert listed is not None, page
    return [item.strip() for item in re.findall(r"<li>(.*?)</li>", listed.group(1), re.S)]


def test_scopes_are_shown_in_words_escaped_with_their_names(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    page = consent(browser, authorization_url(base, webapp))
    assert scope_items(page) == [
        'See your profile <span class="muted">(<code>read</code>)</span>',
        'Change &lt;b&gt;everything&lt;/b&gt; <span class="muted">(<code>write</code>)</span>',
    ]


def test_a_scope_without_a_description_is_shown_by_its_name(
    authhub_make_hub: Callable[..., authhub.AuthHub], authhub_live_server: Callable[[authhub.AuthHub], str],
) -> None:
    from authhub_oauth.clients import create_client

    hub = authhub_make_hub(schemes=["oauth", "session"], oauth={"scope_descriptions": {"read": "See your profile"}})
    hub.users.create("alice", "correct horse battery staple")
    client, secret = create_client(hub, name="Web app", grant_types=["authorization_code"],
                                   redirect_uris=[REDIRECT_URI], scopes=["read", "write"])
    base = authhub_live_server(hub)
    page = consent(Browser(base), authorization_url(base, (client.client_id, secret or "")))
    assert scope_items(page) == ['See your profile <span class="muted">(<code>read</code>)</span>',
                                 "<code>write</code>"]


def test_the_page_is_a_page_people_can_use_and_keeps_its_referrer_on_the_site(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    url = authorization_url(base, webapp)
    consent(browser, url)
    answer = browser.get(url)

    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in answer.text
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    policy = answer.headers["Content-Security-Policy"]
    # the answer to the form is a redirect to the client: that origin, and no other, besides the site's own
    assert "form-action 'self' http://127.0.0.1:9;" in policy
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert re.search(r"<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>", answer.text)
    # after the consent, the redirect to the client carries no Referer either
    decided = browser.post(url, {"csrf_token": hidden_field(answer.text, "csrf_token"),
                                 "consent_binding": hidden_field(answer.text, "consent_binding"),
                                 "decision": "allow"})
    assert decided.status_code == 302
    assert decided.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(("origin", "shown"), [("null", "null"), ("http://evil.example", "http://evil.example")])
def test_a_consent_post_from_no_origin_or_another_is_refused(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object, origin: str, shown: str
) -> None:
    url = authorization_url(base, webapp)
    page = consent(browser, url)
    fields = {"csrf_token": hidden_field(page, "csrf_token"),
              "consent_binding": hidden_field(page, "consent_binding"), "decision": "allow"}
    answer = browser.http.post(url, data=fields, headers={"Origin": origin}, allow_redirects=False, timeout=10)

    assert answer.status_code == 403
    assert answer.json()["detail"] == (f"CSRF Failed: Origin checking failed - {shown} does not match any trusted "
                                       "origins.")
    assert "Location" not in answer.headers
    # the same form from the site itself is accepted
    same = browser.http.post(url, data=fields, headers={"Origin": base}, allow_redirects=False, timeout=10)
    assert same.status_code == 302
    assert "code" in parse_qs(urlsplit(same.headers["Location"]).query)


def test_not_you_logs_out_and_asks_to_sign_in_for_the_same_request(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    url = authorization_url(base, webapp)
    page = consent(browser, url)
    form = re.search(r'<form class="inline" method="post" action="/logout">(.*?)</form>', page, re.S)
    assert form is not None, page
    assert "Not you?" in form.group(1)
    target = hidden_field(form.group(1), "next")
    assert target == url[len(base):]  # the authorization request, path and query

    answer = browser.post("/logout", {"csrf_token": hidden_field(form.group(1), "csrf_token"), "next": target})
    assert answer.status_code == 303
    assert answer.headers["Location"] == target
    again = browser.get(target)
    assert again.status_code == 303
    assert again.headers["Location"].startswith("/login?next=%2Foauth%2Fauthorize%3F")


def test_the_logout_url_setting_is_where_not_you_posts(
    authhub_make_hub: Callable[..., authhub.AuthHub], authhub_live_server: Callable[[authhub.AuthHub], str],
) -> None:
    from authhub_oauth.clients import create_client

    hub = authhub_make_hub(schemes=["oauth", "session"], oauth={"logout_url": "/account/logout"})
    hub.users.create("alice", "correct horse battery staple")
    client, secret = create_client(hub, name="Web app", grant_types=["authorization_code"],
                                   redirect_uris=[REDIRECT_URI], scopes=["read"])
    base = authhub_live_server(hub)
    page = consent(Browser(base), authorization_url(base, (client.client_id, secret or ""), "read"))
    assert '<form class="inline" method="post" action="/account/logout">' in page


def test_an_applications_consent_html_is_used_and_still_bound_to_its_request(
    authhub_make_hub: Callable[..., authhub.AuthHub], authhub_live_server: Callable[[authhub.AuthHub], str],
    tmp_path: Path,
) -> None:
    from authhub_oauth.clients import create_client

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "consent.html").write_text(
        '{% extends "base.html" %}{% block content %}'
        '<h1 id="app-consent">Let {{ client_name }} in as {{ username }}?</h1>'
        "<ul>{% for scope in scopes %}<li>{{ scope.description or scope.name }}</li>{% endfor %}</ul>"
        '<form method="post" action="{{ action }}">'
        '<input type="hidden" name="{{ csrf_field }}" value="{{ csrf_token }}">'
        '<input type="hidden" name="{{ binding_field }}" value="{{ binding }}">'
        '<button name="decision" value="allow">Yes</button></form>{% endblock %}'
    )
    hub = authhub_make_hub(schemes=["oauth", "session"], templates_dir=str(templates),
                           oauth={"scope_descriptions": {"read": "See your profile"}})
    hub.users.create("alice", "correct horse battery staple")
    client, secret = create_client(hub, name="Web app", grant_types=["authorization_code"],
                                   redirect_uris=[REDIRECT_URI], scopes=["read"])
    base = authhub_live_server(hub)
    browser = Browser(base)
    url = authorization_url(base, (client.client_id, secret or ""), "read")
    page = consent(browser, url)

    assert '<h1 id="app-consent">Let Web app in as alice?</h1>' in page
    assert "<li>See your profile</li>" in page
    fields = {"csrf_token": hidden_field(page, "csrf_token"),
              "consent_binding": hidden_field(page, "consent_binding"), "decision": "allow"}
    query = dict(parse_qsl(urlsplit(url).query))
    other = f"{base}/oauth/authorize?{urlencode({**query, 'state': 'another'})}"
    refused = browser.post(other, fields)  # issue 14's binding holds on the application's form
    assert refused.status_code == 403
    assert "another authorization request" in refused.json()["detail"]
    answer = browser.post(url, fields)
    assert answer.status_code == 302
    assert "code" in parse_qs(urlsplit(answer.headers["Location"]).query)


@pytest.mark.parametrize("value", [["read=See"], {"read": 1}, "read"])
def test_scope_descriptions_must_be_a_table_of_strings(
    authhub_make_hub: Callable[..., authhub.AuthHub], value: object
) -> None:
    with pytest.raises(authhub.ConfigurationError, match="oauth.scope_descriptions: expected a table of strings"):
        authhub_make_hub(schemes=["oauth", "session"], oauth={"scope_descriptions": value})
