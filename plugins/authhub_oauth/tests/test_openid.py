"""OpenID Connect (Core 1.0, Discovery 1.0): discovery, the code flow's ID token, userinfo, prompt=none.

The client is Authlib's OAuth2Session against the live server, whose
``oauth.issuer`` is its own URL; each ID token's signature is checked with
the published JWKS (joserfc) and its claims with Authlib's ``CodeIDToken``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt

from authhub import AuthHub
from authhub_oauth.clients import create_client, issue_token

from .conftest import PASSWORD, REDIRECT_URI, Browser
from .provider_fixtures import Served, issuer_server, published_keys, validated_id_token

__all__ = ["issuer_server"]  # a fixture, used by name


def register(hub: AuthHub, scopes: tuple[str, ...] = ("openid", "profile", "read")) -> tuple[str, str]:
    client, secret = create_client(hub, name="Relying party", grant_types=["authorization_code", "refresh_token"],
                                   redirect_uris=[REDIRECT_URI], scopes=scopes)
    assert secret is not None
    return client.client_id, secret


def sign_in(base: str, client: OAuth2Session, browser: Browser, username: str = "alice",
            **params: str) -> dict[str, Any]:
    """Run the code flow through the login and consent pages; the token response."""
    verifier = generate_token(64)
    url, state = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier, **params)
    answer = browser.authorize(url, username=username)
    assert answer.status_code == 302, answer.text
    return dict(client.fetch_token(f"{base}/oauth/token", authorization_response=answer.headers["Location"],
                                   code_verifier=verifier, state=state))


def relying_party(client_id: str, secret: str, scope: str = "openid profile") -> OAuth2Session:
    return OAuth2Session(client_id, secret, scope=scope, redirect_uri=REDIRECT_URI, code_challenge_method="S256")


@pytest.fixture
def provider(issuer_server: Callable[..., Served]) -> Served:
    hub, base = issuer_server()
    hub.users.create("alice", PASSWORD)
    hub.users.create("bob", PASSWORD)
    return hub, base


def test_discovery_document_is_valid_and_names_the_configured_issuer(provider: Served) -> None:
    _, base = provider
    # A forged Host changes nothing: the issuer comes from the configuration only.
    answer = requests.get(f"{base}/.well-known/openid-configuration", headers={"Host": "evil.example"}, timeout=10)
    assert answer.status_code == 200
    document = answer.json()
    OpenIDProviderMetadata(document).validate()
    assert document["issuer"] == base
    assert document["authorization_endpoint"] == f"{base}/oauth/authorize"
    assert document["token_endpoint"] == f"{base}/oauth/token"
    assert document["userinfo_endpoint"] == f"{base}/oauth/userinfo"
    assert document["jwks_uri"] == f"{base}/oauth/jwks"
    assert document["response_types_supported"] == ["code"]
    assert document["subject_types_supported"] == ["public"]
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert "openid" in document["scopes_supported"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    assert "client_secret_basic" in document["token_endpoint_auth_methods_supported"]
    # RFC 8414's metadata is the same document.
    assert requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json() == document


def test_without_an_issuer_there_is_no_provider(hub: AuthHub, base: str, alice: object) -> None:
    """The conftest's hub has no ``oauth.issuer``: discovery, JWKS and userinfo are 404, and no ID token is made."""
    for path in ("/.well-known/openid-configuration", "/oauth/jwks", "/oauth/userinfo"):
        answer = requests.get(f"{base}{path}", timeout=10)
        assert answer.status_code == 404, path
        assert "oauth.issuer" in answer.json()["detail"]
    client_id, secret = register(hub)
    token = sign_in(base, relying_party(client_id, secret), Browser(base))
    assert "id_token" not in token
    assert token["scope"] == "openid profile"


def test_code_flow_with_openid_returns_a_valid_id_token(provider: Served) -> None:
    hub, base = provider
    client_id, secret = register(hub)
    nonce = generate_token(20)
    token = sign_in(base, relying_party(client_id, secret), Browser(base), nonce=nonce)

    claims = validated_id_token(base, token, client_id, nonce=nonce)
    alice = hub.users.get_by_username("alice")
    assert claims["iss"] == base
    assert claims["aud"] == client_id
    assert claims["azp"] == client_id
    assert claims["sub"] == str(alice.id)
    assert claims["nonce"] == nonce
    assert claims["at_hash"]
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["auth_time"] - claims["iat"]) < 60  # the session's start, moments ago
    assert claims["preferred_username"] == "alice"  # scope profile
    header = jwt.decode(token["id_token"], published_keys(base), algorithms=["RS256"]).header
    assert header["alg"] == "RS256" and header["kid"]


def test_a_wrong_nonce_or_another_access_token_fails_validation(provider: Served) -> None:
    """The checks above can fail: CodeIDToken refuses a nonce or an access token the ID token was not made for."""
    hub, base = provider
    client_id, secret = register(hub)
    token = sign_in(base, relying_party(client_id, secret), Browser(base), nonce="the nonce")
    with pytest.raises(Exception, match="nonce"):
        validated_id_token(base, token, client_id, nonce="another nonce")
    with pytest.raises(Exception, match="at_hash"):
        validated_id_token(base, {**token, "access_token": "another-token"}, client_id, nonce="the nonce")
    with pytest.raises(Exception, match="aud"):
        validated_id_token(base, token, "another-client", nonce="the nonce")


def test_sub_is_stable_per_user_and_differs_between_users(provider: Served) -> None:
    hub, base = provider
    client_id, secret = register(hub)
    subjects = []
    for username in ("alice", "alice", "bob"):
        browser = Browser(base)  # a new user agent: signs in again
        token = sign_in(base, relying_party(client_id, secret), browser, username=username)
        subjects.append(validated_id_token(base, token, client_id)["sub"])
    assert subjects[0] == subjects[1]
    assert subjects[0] != subjects[2]


def test_no_id_token_without_the_openid_scope(provider: Served) -> None:
    hub, base = provider
    client_id, secret = register(hub)
    token = sign_in(base, relying_party(client_id, secret, scope="read"), Browser(base))
    assert token["scope"] == "read"
    assert "id_token" not in token


def test_userinfo_answers_for_a_token_with_openid(provider: Served) -> None:
    hub, base = provider
    client_id, secret = register(hub)
    client = relying_party(client_id, secret)
    sign_in(base, client, Browser(base))

    answer = client.get(f"{base}/oauth/userinfo")
    assert answer.status_code == 200
    assert answer.json() == {"sub": str(hub.users.get_by_username("alice").id), "preferred_username": "alice"}
    assert answer.headers["Cache-Control"] == "no-store"
    assert client.post(f"{base}/oauth/userinfo").json()["preferred_username"] == "alice"  # POST too (§5.3.1)

    # Without profile: only sub.
    bare = relying_party(client_id, secret, scope="openid")
    sign_in(base, bare, Browser(base))
    assert bare.get(f"{base}/oauth/userinfo").json() == {"sub": str(hub.users.get_by_username("alice").id)}


def test_userinfo_refusals(provider: Served) -> None:
    hub, base = provider
    alice = hub.users.get_by_username("alice")
    client_id, _ = register(hub)

    anonymous = requests.get(f"{base}/oauth/userinfo", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="authhub"'

    bad = requests.get(f"{base}/oauth/userinfo", headers={"Authorization": "Bearer not-a-token"}, timeout=10)
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]

    without_openid = issue_token(hub, client_id, alice, ["read"])
    refused = requests.get(f"{base}/oauth/userinfo", headers={"Authorization": f"Bearer {without_openid}"},
                           timeout=10)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    assert 'scope="openid"' in refused.headers["WWW-Authenticate"]

    client_own = issue_token(hub, client_id, None, ["openid"])  # a client acting for itself has no user to describe
    assert requests.get(f"{base}/oauth/userinfo", headers={"Authorization": f"Bearer {client_own}"},
                        timeout=10).status_code == 403


def test_prompt_none_without_a_session_is_login_required(provider: Served) -> None:
    hub, base = provider
    client_id, secret = register(hub)
    url, state = relying_party(client_id, secret).create_authorization_url(
        f"{base}/oauth/authorize", code_verifier=generate_token(64), prompt="none")
    answer = Browser(base).get(url)

    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["error"] == ["login_required"]
    assert query["state"] == [state]
    assert "code" not in query


def test_prompt_none_with_a_session_is_consent_required(provider: Served) -> None:
    """authhub asks for consent every time, so a request that may show no page cannot get it."""
    hub, base = provider
    client_id, secret = register(hub)
    browser = Browser(base)
    sign_in(base, relying_party(client_id, secret), browser)  # now signed in
    url, state = relying_party(client_id, secret).create_authorization_url(
        f"{base}/oauth/authorize", code_verifier=generate_token(64), prompt="none")
    answer = browser.get(url)

    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["consent_required"]
    assert query["state"] == [state]


def test_a_nonce_used_before_by_the_client_is_refused(provider: Served) -> None:
    hub, base = provider
    client_id, secret = register(hub)
    browser = Browser(base)
    sign_in(base, relying_party(client_id, secret), browser, nonce="once")
    url, _ = relying_party(client_id, secret).create_authorization_url(
        f"{base}/oauth/authorize", code_verifier=generate_token(64), nonce="once")
    answer = browser.get(url)

    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["invalid_request"]


def test_an_application_user_store_with_string_ids(issuer_server: Callable[..., Served],
                                                   authhub_account_hub: Callable[..., AuthHub]) -> None:
    hub, base = issuer_server(make_hub=authhub_account_hub)
    hub.users.add("alice", PASSWORD)
    hub.users.add("bob", PASSWORD)
    client_id, secret = register(hub)
    alice = relying_party(client_id, secret)
    alice_claims = validated_id_token(base, sign_in(base, alice, Browser(base)), client_id)
    bob_claims = validated_id_token(base, sign_in(base, relying_party(client_id, secret), Browser(base),
                                                  username="bob"), client_id)

    assert alice_claims["sub"] == str(hub.users.get_by_username("alice").id)
    assert re.fullmatch(r"[0-9a-f-]{36}", alice_claims["sub"])  # the application's UUID
    assert bob_claims["sub"] != alice_claims["sub"]
    assert alice.get(f"{base}/oauth/userinfo").json()["sub"] == alice_claims["sub"]

    # Deactivated in the application's own table: userinfo refuses at once.
    hub.users.disable("alice")
    assert alice.get(f"{base}/oauth/userinfo").status_code == 401


def test_refresh_gives_no_new_id_token_and_keeps_working(provider: Served) -> None:
    hub, base = provider
    client_id, secret = register(hub)
    client = relying_party(client_id, secret)
    sign_in(base, client, Browser(base))
    refreshed = client.refresh_token(f"{base}/oauth/token")
    assert "id_token" not in refreshed
    assert client.get(f"{base}/oauth/userinfo").status_code == 200


def test_an_openid_request_of_a_client_without_openid_is_refused(provider: Served) -> None:
    hub, base = provider
    client_id, secret = register(hub, scopes=("read",))
    url, _ = relying_party(client_id, secret).create_authorization_url(
        f"{base}/oauth/authorize", code_verifier=generate_token(64))
    browser = Browser(base)
    with pytest.raises(AssertionError):
        browser.authorize(url)  # never reaches a consent page
    answer = browser.get(url)
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["invalid_scope"]
