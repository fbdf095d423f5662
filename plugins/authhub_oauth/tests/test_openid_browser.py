"""OpenID Connect sign-in in a real browser (Debian's Chromium, driven by Playwright).

A relying party on another site (127.0.0.2) links to the authorization
endpoint with ``scope=openid profile`` and a nonce; the user signs in,
allows, and comes back with a code; the relying party exchanges it
(Authlib's OAuth2Session) and validates the ID token: signature against
the provider's JWKS, claims with Authlib's ``CodeIDToken``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from authhub.testing import Site
from authhub_oauth.clients import create_client

from .conftest import PASSWORD
from .provider_fixtures import Served, issuer_server, validated_id_token

__all__ = ["issuer_server"]  # a fixture, used by name

import authhub_session  # noqa: F401 - the login page is the session plugin's (oauth test extra)

RELYING_PARTY_HOST = "127.0.0.2"


def test_sign_in_with_openid_connect_in_chromium(authhub_browser: Any, issuer_server: Callable[..., Served],
                                                 authhub_site: Callable[[str], Site]) -> None:
    site = authhub_site(RELYING_PARTY_HOST)
    hub, base = issuer_server()
    alice = hub.users.create("alice", PASSWORD)
    redirect_uri = f"{site.base}/callback"
    client, secret = create_client(hub, name="Photo printer", grant_types=["authorization_code"],
                                   redirect_uris=[redirect_uri], scopes=["openid", "profile"])
    relying_party = OAuth2Session(client.client_id, secret, scope="openid profile", redirect_uri=redirect_uri,
                                  code_challenge_method="S256")
    verifier, nonce = generate_token(64), generate_token(24)
    link, state = relying_party.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier,
                                                         nonce=nonce)
    site.pages["/"] = ('<!doctype html><html lang="en"><title>Photo printer</title>'
                       f'<a id="sign-in" href="{html.escape(link)}">Sign in with authhub</a></html>')
    site.pages["/callback"] = "<!doctype html><title>Back</title><h1>Back</h1>"
    context = authhub_browser.new_context()
    page = context.new_page()
    page.goto(f"{site.base}/")
    page.click("#sign-in")
    page.wait_for_url(f"{base}/login?next=*")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/oauth/authorize?*")
    assert page.text_content("#client") == "Photo printer"
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{redirect_uri}?*")

    assert parse_qs(urlsplit(page.url).query)["state"] == [state]
    token = relying_party.fetch_token(f"{base}/oauth/token", authorization_response=page.url, code_verifier=verifier)
    claims = validated_id_token(base, token, client.client_id, nonce=nonce)
    assert claims["sub"] == str(alice.id)
    assert claims["preferred_username"] == "alice"
    assert relying_party.get(f"{base}/oauth/userinfo").json() == {"sub": str(alice.id), "preferred_username": "alice"}
    context.close()
