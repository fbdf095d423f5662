"""Authorization code + PKCE through the consent page, after a real session login.

The client is Authlib's OAuth2Session; the user agent is a requests session
that signs in on the session plugin's login page and answers the consent page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge

import authhub
from authhub_oauth.clients import create_client

from .conftest import REDIRECT_URI, Browser, hidden_field


def start(base: str, client: OAuth2Session, **params: str) -> tuple[str, str]:
    """The authorization URL and the code verifier for ``client``."""
    verifier = generate_token(64)
    url, _state = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier, **params)
    return url, verifier


def code_of(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)["code"][0]


def test_code_flow_with_pkce_then_whoami_refresh_revoke_introspect(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, verifier = start(base, client)
    state = parse_qs(urlsplit(url).query)["state"][0]

    # Anonymous: sent to the login page, which brings us back to the consent page.
    first = browser.get(url)
    assert first.status_code == 303
    assert first.headers["Location"].startswith("/login?next=%2Foauth%2Fauthorize%3F")
    consent = browser.get(browser.login_at(first.headers["Location"], "alice", "correct horse battery staple"))
    assert consent.status_code == 200
    assert "Web app" in consent.text and "<code>read</code>" in consent.text
    assert consent.headers["X-Frame-Options"] == "DENY"

    redirect = browser.authorize(url)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert parse_qs(urlsplit(location).query)["state"] == [state]

    token = client.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier,
                               state=state)
    assert token["scope"] == "read"
    assert token["refresh_token"]
    assert client.get(f"{base}/whoami").json() == {"authenticated": True, "user": "alice", "scheme": "oauth"}

    # Refresh rotates: a new refresh token each time.
    first_refresh = token["refresh_token"]
    refreshed = client.refresh_token(f"{base}/oauth/token")
    assert refreshed["refresh_token"] != first_refresh
    assert refreshed["access_token"] != token["access_token"]
    assert client.get(f"{base}/whoami").json()["user"] == "alice"

    # Introspection by the client itself.
    info = client.introspect_token(f"{base}/oauth/introspect", token=refreshed["access_token"]).json()
    assert info["active"] is True
    assert info["username"] == "alice"
    assert info["client_id"] == webapp[0]
    assert info["scope"] == "read"

    # Revocation (RFC 7009) ends the access token at once.
    assert client.revoke_token(f"{base}/oauth/revoke", token=refreshed["access_token"]).status_code == 200
    answer = client.get(f"{base}/whoami")
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert client.introspect_token(f"{base}/oauth/introspect", token=refreshed["access_token"]).json() == {
        "active": False
    }


def test_reusing_a_rotated_refresh_token_revokes_the_family(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    client = OAuth2Session(*webapp, scope="read write", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, verifier = start(base, client)
    token = client.fetch_token(f"{base}/oauth/token", authorization_response=browser.authorize(url).headers["Location"],
                               code_verifier=verifier)
    stolen = token["refresh_token"]
    newer = client.refresh_token(f"{base}/oauth/token")
    assert client.get(f"{base}/whoami").status_code == 200

    attacker = OAuth2Session(*webapp)
    with pytest.raises(OAuthError) as caught:
        attacker.refresh_token(f"{base}/oauth/token", refresh_token=stolen)
    assert caught.value.error == "invalid_grant"

    # The whole family is gone: the legitimate client's current tokens too.
    answer = client.get(f"{base}/whoami")
    assert answer.status_code == 401
    with pytest.raises(OAuthError) as caught:
        client.refresh_token(f"{base}/oauth/token", refresh_token=newer["refresh_token"])
    assert caught.value.error == "invalid_grant"


def test_reused_code_is_refused_and_revokes_its_tokens(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, verifier = start(base, client)
    location = browser.authorize(url).headers["Location"]
    client.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert client.get(f"{base}/whoami").status_code == 200

    again = OAuth2Session(*webapp, redirect_uri=REDIRECT_URI)
    with pytest.raises(OAuthError) as caught:
        again.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert caught.value.error == "invalid_grant"
    assert client.get(f"{base}/whoami").status_code == 401


def test_public_client_code_flow(base: str, browser: Browser, spa: str, alice: object) -> None:
    client = OAuth2Session(spa, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, verifier = start(base, client)
    location = browser.authorize(url).headers["Location"]
    token = client.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier)

    assert client.get(f"{base}/whoami").json()["user"] == "alice"
    assert token["refresh_token"]


def test_public_client_without_pkce_is_refused_at_the_authorization_endpoint(
    base: str, browser: Browser, spa: str, alice: object
) -> None:
    client = OAuth2Session(spa, scope="read", redirect_uri=REDIRECT_URI)
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize")
    answer = browser.get(url)

    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert "PKCE" in query["error_description"][0]


def test_plain_pkce_is_refused(base: str, browser: Browser, spa: str, alice: object) -> None:
    client = OAuth2Session(spa, scope="read", redirect_uri=REDIRECT_URI)
    verifier = generate_token(64)
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_challenge=verifier,
                                             code_challenge_method="plain")
    answer = browser.get(url)

    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["invalid_request"]


def test_challenge_without_method_means_plain_and_is_refused(
    base: str, browser: Browser, spa: str, alice: object
) -> None:
    client = OAuth2Session(spa, scope="read", redirect_uri=REDIRECT_URI)
    challenge = create_s256_code_challenge(generate_token(64))
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_challenge=challenge)
    answer = browser.get(url)

    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["invalid_request"]


@pytest.mark.parametrize("verifier", [None, "wrong" * 10])
def test_missing_or_wrong_code_verifier(
    base: str, browser: Browser, spa: str, alice: object, verifier: str | None
) -> None:
    client = OAuth2Session(spa, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, _right = start(base, client)
    location = browser.authorize(url).headers["Location"]
    extra = {} if verifier is None else {"code_verifier": verifier}

    with pytest.raises(OAuthError) as caught:
        client.fetch_token(f"{base}/oauth/token", authorization_response=location, **extra)
    assert caught.value.error == ("invalid_request" if verifier is None else "invalid_grant")
    assert client.token is None or "access_token" not in client.token


def test_wrong_redirect_uri_gets_no_redirect(base: str, browser: Browser, webapp: tuple[str, str],
                                             alice: object) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri="https://evil.example/callback",
                           code_challenge_method="S256")
    url, _ = start(base, client)
    answer = browser.get(url)

    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["detail"]


def test_unknown_client_gets_no_redirect(base: str, browser: Browser) -> None:
    client = OAuth2Session("no-such-client", scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, _ = start(base, client)
    answer = browser.get(url)

    assert answer.status_code in (400, 401)
    assert "Location" not in answer.headers
    assert answer.json()["error"] == "invalid_client"


def test_redirect_uri_at_the_token_endpoint_must_match(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, verifier = start(base, client)
    location = browser.authorize(url).headers["Location"]
    client.redirect_uri = "http://127.0.0.1:9/other"

    with pytest.raises(OAuthError) as caught:
        client.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert caught.value.error == "invalid_grant"


def test_denying_consent_redirects_with_access_denied(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, _ = start(base, client)
    answer = browser.authorize(url, decision="deny")

    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["access_denied"]


def test_consent_post_without_the_csrf_token_is_refused(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, _ = start(base, client)
    browser.authorize(url, decision="deny")  # logs in
    answer = browser.post(url, {"decision": "allow"})

    assert answer.status_code == 403
    assert "Location" not in answer.headers


@pytest.mark.parametrize("change", ["scope", "redirect_uri", "client_id", "state"])
def test_a_consent_form_approves_only_the_request_it_was_shown_for(
    hub: authhub.AuthHub, base: str, browser: Browser, alice: object, change: str
) -> None:
    # Issue 14: the consent form's CSRF token was not bound to its authorization request.
    other_uri = "http://127.0.0.1:9/other"
    registered = {"grant_types": ["authorization_code"], "redirect_uris": [REDIRECT_URI, other_uri],
                  "scopes": ["read", "write"]}
    first, secret = create_client(hub, name="First", **registered)
    second, _ = create_client(hub, name="Second", **registered)
    client = OAuth2Session(first.client_id, secret, scope="read", redirect_uri=REDIRECT_URI,
                           code_challenge_method="S256")
    url, _ = start(base, client, state="s1")
    browser.authorize(url, decision="deny")  # logs in
    page = browser.get(url)
    fields = {"csrf_token": hidden_field(page.text, "csrf_token"),
              "consent_binding": hidden_field(page.text, "consent_binding"), "decision": "allow"}
    query = dict(parse_qsl(urlsplit(url).query))
    query[change] = {"scope": "read write", "redirect_uri": other_uri, "client_id": second.client_id,
                     "state": "s2"}[change]
    answer = browser.post(f"{base}/oauth/authorize?{urlencode(query)}", fields)
    assert answer.status_code == 403, answer.text
    assert "another authorization request" in answer.json()["detail"]
    assert "Location" not in answer.headers
    assert browser.post(url, {**fields, "consent_binding": "\u00e9t\u00e9"}).status_code == 403
    assert code_of(browser.post(url, fields))  # the form still approves its own request


def test_a_bearer_token_cannot_approve_a_consent(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object
) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, verifier = start(base, client)
    client.fetch_token(f"{base}/oauth/token", authorization_response=browser.authorize(url).headers["Location"],
                       code_verifier=verifier)
    url, _ = start(base, client)
    answer = client.post(url, data={"decision": "allow"}, allow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/login?next=")


def test_expired_code_is_refused(
    base: str, browser: Browser, webapp: tuple[str, str], alice: object, hub: object
) -> None:
    import datetime as dt

    import sqlalchemy as sa

    from authhub_oauth.models import AuthorizationCode

    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, verifier = start(base, client)
    location = browser.authorize(url).headers["Location"]
    with hub.store.session() as session:  # type: ignore[attr-defined]
        session.execute(sa.update(AuthorizationCode).values(
            expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))

    with pytest.raises(OAuthError) as caught:
        client.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert caught.value.error == "invalid_grant"


def test_metadata_document(authhub_make_hub: Any, authhub_live_server: Any) -> None:
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    issuer = "https://login.example"
    base = authhub_live_server(authhub_make_hub(schemes=["oauth"], oauth={"issuer": issuer}))
    url = f"{base}/.well-known/oauth-authorization-server"
    document = requests.get(url, timeout=10).json()
    assert document["issuer"] == issuer
    assert document["token_endpoint"] == f"{issuer}/oauth/token"
    assert document["code_challenge_methods_supported"] == ["S256"]
    AuthorizationServerMetadata(document).validate()
    # Issue 14: the Host header never becomes the issuer of a publicly cached document.
    forged = requests.get(url, headers={"Host": "evil.example"}, timeout=10)
    assert forged.json() == document
    assert "public" in forged.headers["Cache-Control"]


def test_without_an_issuer_there_is_no_metadata_whatever_the_host(base: str) -> None:
    answer = requests.get(f"{base}/.well-known/oauth-authorization-server", headers={"Host": "evil.example"},
                          timeout=10)
    assert answer.status_code == 404
    assert "oauth.issuer" in answer.json()["detail"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert "evil.example" not in answer.text


def test_the_issuer_setting_is_checked(authhub_make_hub: Any) -> None:
    for bad in ("issuer.example", "https://issuer.example/?tenant=1", "http://issuer.example"):
        with pytest.raises(authhub.ConfigurationError, match="oauth.issuer"):
            authhub_make_hub(schemes=["oauth"], oauth={"issuer": bad})
