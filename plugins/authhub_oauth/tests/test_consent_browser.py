"""The authorization-code flow with PKCE in a real browser: Debian's Chromium, driven by Playwright.

A client application on another loopback address (127.0.0.2, another site)
links to ``/oauth/authorize``; the user signs in on the session plugin's
login page, answers the consent page, and the browser comes back to the
client's redirect URI with a code, which Authlib's client exchanges with
its PKCE verifier for a token that ``/whoami`` accepts. Issue 16: the
consent page's ``Referrer-Policy: no-referrer`` made Chromium post it with
``Origin: null``, which the CSRF check refuses.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

import authhub
import authhub_session  # noqa: F401 - the consent page is the session plugin's login (oauth test extra)
from authhub.testing import Site
from authhub_oauth.clients import create_client
from authhub_oauth.models import AuthorizationCode

from .conftest import PASSWORD

CLIENT_HOST = "127.0.0.2"


class ConsentOrigins:
    """A plugin that keeps the ``Origin`` of every consent post, as the server received it."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    @authhub.hookimpl
    def authentication_outcome(self, outcome: authhub.Outcome) -> None:
        request = outcome.request
        if request.method == "POST" and request.path == "/oauth/authorize":
            self.seen.append(next(iter(request.headers.get_all("origin")), None))


@pytest.fixture
def origins() -> ConsentOrigins:
    return ConsentOrigins()


@pytest.fixture
def hub(authhub_make_hub: Callable[..., authhub.AuthHub], origins: ConsentOrigins) -> authhub.AuthHub:
    """The conftest's hub, with a description for the scope ``read`` (and none for ``write``)."""
    return authhub_make_hub(schemes=["oauth", "session"], oauth={"scope_descriptions": {"read": "See your profile"}},
                            plugins={"origins": origins})


class ClientApp:
    """The client application: a page linking to the authorization request, and its redirect URI."""

    def __init__(self, hub: authhub.AuthHub, base: str, site: Site) -> None:
        self.site = site
        self.redirect_uri = f"{site.base}/callback"
        client, secret = create_client(hub, name="Photo printer", grant_types=["authorization_code"],
                                       redirect_uris=[self.redirect_uri], scopes=["read", "write"])
        self.oauth = OAuth2Session(client.client_id, secret, scope="read write", redirect_uri=self.redirect_uri,
                                   code_challenge_method="S256")
        self.verifier = generate_token(64)
        self.url, self.state = self.oauth.create_authorization_url(f"{base}/oauth/authorize",
                                                                   code_verifier=self.verifier)
        site.pages["/"] = ('<!doctype html><html lang="en"><title>Photo printer</title>'
                           f'<a id="sign-in" href="{html.escape(self.url)}">Sign in with authhub</a></html>')
        site.pages["/callback"] = "<!doctype html><title>Back at the client</title><h1>Back at the client</h1>"


@pytest.fixture
def client_app(hub: authhub.AuthHub, base: str, authhub_site: Callable[[str], Site]) -> ClientApp:
    return ClientApp(hub, base, authhub_site(CLIENT_HOST))


def csp_problems(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    return problems


def sign_in_and_reach_the_consent(page: Any, base: str, app: ClientApp) -> None:
    page.goto(f"{app.site.base}/")
    page.click("#sign-in")
    page.wait_for_url(f"{base}/login?next=*")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/oauth/authorize?*")


def test_allow_then_exchange_the_code_and_call_whoami(authhub_browser: Any, base: str, alice: object,
                                                      client_app: ClientApp, origins: ConsentOrigins) -> None:
    context = authhub_browser.new_context()
    page = context.new_page()
    problems = csp_problems(page)
    sign_in_and_reach_the_consent(page, base, client_app)

    assert page.text_content("#client") == "Photo printer"
    assert page.text_content("#username") == "alice"
    scopes = page.locator("#scopes li").all_text_contents()
    assert scopes == ["See your profile (read)", "write"]  # the description, else the scope's name
    assert client_app.redirect_uri in page.text_content("main")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{client_app.redirect_uri}?*")

    assert origins.seen == [base]  # the site's own Origin, not "null"
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == [client_app.state]
    token = client_app.oauth.fetch_token(f"{base}/oauth/token", authorization_response=page.url,
                                         code_verifier=client_app.verifier)
    assert token["scope"] == "read write"
    answer = requests.get(f"{base}/whoami", headers={"Authorization": f"Bearer {token['access_token']}"},
                          timeout=10)
    assert answer.json() == {"authenticated": True, "user": "alice", "scheme": "oauth"}
    assert problems == []  # the stylesheet and the form's redirect are within the page's policy
    context.close()


def test_deny_comes_back_with_access_denied_and_no_code(
    authhub_browser: Any, base: str, alice: object, hub: authhub.AuthHub, client_app: ClientApp,
    origins: ConsentOrigins,
) -> None:
    context = authhub_browser.new_context()
    page = context.new_page()
    sign_in_and_reach_the_consent(page, base, client_app)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(f"{client_app.redirect_uri}?*")

    assert origins.seen == [base]
    query = parse_qs(urlsplit(page.url).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [client_app.state]
    assert "code" not in query
    assert codes_issued(hub) == 0
    context.close()


def test_not_you_logs_out_and_comes_back_to_the_same_request(authhub_browser: Any, base: str, hub: authhub.AuthHub,
                                                             alice: object, client_app: ClientApp) -> None:
    hub.users.create("bob", PASSWORD)
    context = authhub_browser.new_context()
    page = context.new_page()
    sign_in_and_reach_the_consent(page, base, client_app)
    consent_url = page.url

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/login?next=*")  # signed out, and asked to sign in for the same request
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(consent_url)
    assert page.text_content("#username") == "bob"
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{client_app.redirect_uri}?*")
    token = client_app.oauth.fetch_token(f"{base}/oauth/token", authorization_response=page.url,
                                         code_verifier=client_app.verifier)
    answer = requests.get(f"{base}/whoami", headers={"Authorization": f"Bearer {token['access_token']}"},
                          timeout=10)
    assert answer.json()["user"] == "bob"
    context.close()


def codes_issued(hub: authhub.AuthHub) -> int:
    with hub.store.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(AuthorizationCode)) or 0)


def forged_consent(action: str, fields: dict[str, str], *, referrer: str | None = None) -> str:
    """A page that posts a consent form to ``action`` as soon as it loads."""
    meta = f'<meta name="referrer" content="{referrer}">' if referrer else ""
    inputs = "".join(f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
                     for name, value in fields.items())
    return (f'<!doctype html><html><head>{meta}</head><body><form id="f" method="post" '
            f'action="{html.escape(action)}">{inputs}</form>'
            "<script>document.getElementById('f').submit()</script></body></html>")


# Even with the form's CSRF token and binding in hand (as if they had leaked), another origin cannot
# approve: on the same site (127.0.0.1, another port) the browser sends the session cookie and the
# Origin check refuses, also when the page hides its origin ('Origin: null'); from another site
# (127.0.0.2) the browser withholds the SameSite=Lax cookie, so the post is anonymous and is sent to
# the login page.
@pytest.mark.parametrize(("attacker_host", "referrer", "status", "refusal"), [
    ("127.0.0.1", None, 403, "CSRF Failed: Origin checking failed - http://127.0.0.1:"),
    ("127.0.0.1", "no-referrer", 403, "CSRF Failed: Origin checking failed - null does not match"),
    ("127.0.0.2", None, 303, None),
], ids=["same-site", "same-site-origin-null", "cross-site"])
def test_a_consent_posted_from_another_origin_is_refused(
    authhub_browser: Any, base: str, hub: authhub.AuthHub, alice: object, client_app: ClientApp,
    authhub_site: Callable[[str], Site], origins: ConsentOrigins, attacker_host: str, referrer: str | None, status: int,
    refusal: str | None,
) -> None:
    context = authhub_browser.new_context()
    page = context.new_page()
    sign_in_and_reach_the_consent(page, base, client_app)
    form = page.locator("form", has=page.get_by_role("button", name="Allow"))
    fields = {name: form.locator(f"input[name={name}]").get_attribute("value") or ""
              for name in ("csrf_token", "consent_binding")}
    attacker = authhub_site(attacker_host)
    attacker.pages["/"] = forged_consent(page.url, {**fields, "decision": "allow"}, referrer=referrer)

    evil = context.new_page()
    with evil.expect_response(lambda response: response.request.method == "POST"
                              and response.url.startswith(f"{base}/oauth/authorize")) as answer:
        evil.goto(f"{attacker.base}/")
    response = answer.value

    assert response.status == status
    if refusal is not None:
        assert response.json()["detail"].startswith(refusal)
    else:
        assert response.header_value("location").startswith("/login?next=")
    assert codes_issued(hub) == 0
    assert not [visit for visit in client_app.site.visits if visit.startswith("/callback")]
    assert origins.seen == ["null" if referrer else attacker.base]  # what Chromium sent with the forged form
    page.reload()
    assert page.text_content("#username") == "alice"  # still signed in, and the real form still works
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{client_app.redirect_uri}?*")
    assert codes_issued(hub) == 1
    assert origins.seen[1:] == [base]
    context.close()
