"""DPoP (RFC 9449) on the live server: bound tokens from /oauth/token, and the resource server's checks.

Tokens are requested with Authlib's OAuth2Session; proofs are built with
joserfc (ES256). The hub's issuer is ``https://login.example`` while the
server listens on 127.0.0.1: every ``htu`` names the configured issuer, never
the address the request was sent to.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.client import DEFAULT_HEADERS
from joserfc.jwk import ECKey, OKPKey, RSAKey

import authhub
from authhub import AuthHub, Request
from authhub_oauth import AccessToken, OAuthScheme
from authhub_oauth.clients import create_client

from .conftest import REDIRECT_URI, Browser
from .dpop_proofs import make_proof, new_key, thumbprint

ISSUER = "https://login.example"
TOKEN_URL = f"{ISSUER}/oauth/token"
WHOAMI = f"{ISSUER}/whoami"
ALGS = 'algs="ES256 ES384 PS256 RS256 Ed25519"'


@pytest.fixture
def hub(authhub_make_hub: Callable[..., AuthHub]) -> AuthHub:
    return authhub_make_hub(schemes=["oauth", "session"], oauth={"issuer": ISSUER})


def token_request(base: str, service: tuple[str, str], proof: str | None, **fields: str) -> requests.Response:
    headers = {"DPoP": proof} if proof is not None else {}
    return requests.post(f"{base}/oauth/token", auth=service, data={"grant_type": "client_credentials", **fields},
                         headers=headers, timeout=10)


def bound_token(base: str, service: tuple[str, str], key: Any) -> str:
    """A client-credentials access token bound to ``key``, through Authlib's client."""
    client = OAuth2Session(*service, scope="read")
    token = client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials",
                               headers={**DEFAULT_HEADERS, "DPoP": make_proof(key, "POST", TOKEN_URL)})
    assert token["token_type"] == "DPoP"
    access_token: str = token["access_token"]
    return access_token


def whoami(base: str, authorization: str, proof: str | None, method: str = "GET") -> requests.Response:
    headers = {"Authorization": authorization}
    if proof is not None:
        headers["DPoP"] = proof
    return requests.request(method, f"{base}/whoami", headers=headers, timeout=10)


def refused(answer: requests.Response, error: str) -> str:
    """The challenge of a 401 refusal with ``error``, checked to be RFC 9449 §7.1's."""
    assert answer.status_code == 401, answer.text
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith(f'DPoP error="{error}", error_description="'), challenge
    assert challenge.endswith(ALGS)
    assert answer.json()["detail"] in challenge
    return challenge


# -- the authorization server ----------------------------------------------------------------


def test_metadata_lists_the_proof_algorithms(base: str) -> None:
    document = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
    assert document["dpop_signing_alg_values_supported"] == ["ES256", "ES384", "PS256", "RS256", "Ed25519"]
    assert "use_dpop_nonce" not in document  # no server nonces


def test_a_proof_binds_the_token_to_its_key(hub: AuthHub, base: str, service: tuple[str, str]) -> None:
    key = new_key()
    token = bound_token(base, service, key)

    answer = whoami(base, f"DPoP {token}", make_proof(key, "GET", WHOAMI, token=token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"authenticated": True, "user": f"client:{service[0]}", "scheme": "oauth"}
    # request.auth carries the RFC 7638 thumbprint of the key.
    request = Request("GET", "/whoami", [("Authorization", f"DPoP {token}"),
                                         ("DPoP", make_proof(key, "GET", WHOAMI, token=token))], hub=hub)
    assert isinstance(request.auth, AccessToken)
    assert request.auth.jkt == thumbprint(key.as_dict(private=False))
    # Introspection says so too (RFC 9449 §6.2).
    info = requests.post(f"{base}/oauth/introspect", auth=service, data={"token": token}, timeout=10).json()
    assert info["active"] is True
    assert info["token_type"] == "DPoP"
    assert info["cnf"] == {"jkt": thumbprint(key.as_dict(private=False))}


def test_without_a_proof_tokens_stay_bearer_tokens(base: str, service: tuple[str, str]) -> None:
    answer = token_request(base, service, None)
    assert answer.json()["token_type"] == "Bearer"
    token = answer.json()["access_token"]

    assert whoami(base, f"Bearer {token}", None).json()["authenticated"] is True
    # ... and such a token is no DPoP token.
    challenge = refused(whoami(base, f"DPoP {token}", make_proof(new_key(), "GET", WHOAMI, token=token)),
                        "invalid_token")
    assert "not bound to a DPoP key" in challenge


@pytest.mark.parametrize(("change", "problem"), [
    ({"htu": "http://127.0.0.1/oauth/token"}, "'htu' must be the URL requested"),
    ({"htu": f"{ISSUER}/oauth/introspect"}, "'htu' must be the URL requested"),
    ({"htm": "GET"}, "'htm' must be POST"),
    ({"iat": 1}, "too old"),
    ({"jti": None}, "'jti'"),
], ids=["htu-from-host", "htu-other-endpoint", "htm", "stale", "no-jti"])
def test_bad_proofs_at_the_token_endpoint(base: str, service: tuple[str, str], change: dict[str, Any],
                                          problem: str) -> None:
    answer = token_request(base, service, make_proof(new_key(), "POST", TOKEN_URL, **change))

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_dpop_proof"
    assert problem in answer.json()["error_description"]


def test_the_token_endpoint_refuses_unusable_keys_and_algorithms(base: str, service: tuple[str, str]) -> None:
    key = new_key()
    private = key.as_dict(private=True)
    cases = {
        "holds a private key": make_proof(key, "POST", TOKEN_URL, header={"jwk": private}),
        "'typ' must be 'dpop+jwt'": make_proof(key, "POST", TOKEN_URL, header={"typ": "JWT"}),
        "'alg' is not accepted": make_proof(ECKey.generate_key("P-521", private=True), "POST", TOKEN_URL,
                                            alg="ES512"),
        "does not verify": make_proof(key, "POST", TOKEN_URL, header={"jwk": new_key().as_dict(private=False)}),
        "needs a 'jwk'": make_proof(key, "POST", TOKEN_URL, header={"jwk": None}),
        "not a JWT": "not.a-proof",
    }
    for problem, proof in cases.items():
        answer = token_request(base, service, proof)
        assert answer.status_code == 400, problem
        assert answer.json()["error"] == "invalid_dpop_proof"
        assert problem in answer.json()["error_description"], answer.json()
    # Two DPoP headers: which one would count? (requests cannot send a header twice; http.client can.)
    connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
    body = f"grant_type=client_credentials&client_id={service[0]}&client_secret={service[1]}".encode()
    connection.putrequest("POST", "/oauth/token")
    for header, value in (("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", str(len(body))),
                          ("DPoP", make_proof(key, "POST", TOKEN_URL)), ("DPoP", make_proof(key, "POST", TOKEN_URL))):
        connection.putheader(header, value)
    connection.endheaders(body)
    two = connection.getresponse()
    assert two.status == 400
    assert "more than one DPoP header" in json.loads(two.read())["error_description"]
    connection.close()


def test_rsa_and_ed25519_proofs_are_accepted(base: str, service: tuple[str, str]) -> None:
    for key, alg in ((RSAKey.generate_key(2048, private=True), "RS256"), (OKPKey.generate_key("Ed25519"), "Ed25519")):
        answer = token_request(base, service, make_proof(key, "POST", TOKEN_URL, alg=alg))
        assert answer.status_code == 200, answer.text
        assert answer.json()["token_type"] == "DPoP"
        token = answer.json()["access_token"]
        assert whoami(base, f"DPoP {token}", make_proof(key, "GET", WHOAMI, token=token, alg=alg)).status_code == 200


def test_a_proof_is_used_once_at_the_token_endpoint(base: str, service: tuple[str, str]) -> None:
    proof = make_proof(new_key(), "POST", TOKEN_URL)
    assert token_request(base, service, proof).status_code == 200
    again = token_request(base, service, proof)
    assert again.status_code == 400
    assert "already used" in again.json()["error_description"]


def test_without_an_issuer_a_proof_is_refused_not_ignored(
    authhub_make_hub: Callable[..., AuthHub], authhub_live_server: Callable[[AuthHub], str]
) -> None:
    hub = authhub_make_hub(schemes=["oauth"])
    client, secret = create_client(hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    base = authhub_live_server(hub)
    # The token endpoint's URL would have to come from the Host header: never.
    answer = token_request(base, (client.client_id, str(secret)),
                           make_proof(new_key(), "POST", f"{base}/oauth/token"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_dpop_proof"
    assert "issuer URL is not configured" in answer.json()["error_description"]


def test_with_dpop_off_proofs_are_ignored(
    authhub_make_hub: Callable[..., AuthHub], authhub_live_server: Callable[[AuthHub], str]
) -> None:
    hub = authhub_make_hub(schemes=["oauth"], oauth={"issuer": ISSUER, "dpop": False})
    client, secret = create_client(hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    base = authhub_live_server(hub)
    answer = token_request(base, (client.client_id, str(secret)), make_proof(new_key(), "POST", TOKEN_URL))
    assert answer.json()["token_type"] == "Bearer"
    document = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
    assert "dpop_signing_alg_values_supported" not in document


# -- the resource server -----------------------------------------------------------------------


def test_a_bound_token_sent_as_bearer_is_refused(base: str, service: tuple[str, str]) -> None:
    token = bound_token(base, service, new_key())
    challenge = refused(whoami(base, f"Bearer {token}", None), "invalid_token")
    assert "bound to a DPoP key" in challenge


def test_a_proof_of_another_key_is_refused(base: str, service: tuple[str, str]) -> None:
    token = bound_token(base, service, new_key())
    challenge = refused(whoami(base, f"DPoP {token}", make_proof(new_key(), "GET", WHOAMI, token=token)),
                        "invalid_token")
    assert "another key" in challenge


def test_a_replayed_proof_is_refused(base: str, service: tuple[str, str]) -> None:
    key = new_key()
    token = bound_token(base, service, key)
    proof = make_proof(key, "GET", WHOAMI, token=token)
    assert whoami(base, f"DPoP {token}", proof).status_code == 200

    assert "already used" in refused(whoami(base, f"DPoP {token}", proof), "invalid_dpop_proof")
    # A fresh proof works again.
    assert whoami(base, f"DPoP {token}", make_proof(key, "GET", WHOAMI, token=token)).status_code == 200


@pytest.mark.parametrize(("change", "problem"), [
    ({"htm": "POST"}, "'htm' must be GET"),
    ({"htu": f"{ISSUER}/protected"}, "'htu' must be the URL requested"),
    ({"htu": "https://api.other.example/whoami"}, "'htu' must be the URL requested"),
    ({"iat": "stale"}, "too old"),
    ({"iat": "future"}, "in the future"),
    ({"ath": None}, "no 'ath' claim"),
    ({"ath": "wrong"}, "'ath' is not the hash of this access token"),
], ids=["method", "path", "host", "stale-iat", "future-iat", "missing-ath", "wrong-ath"])
def test_proofs_not_for_this_request_are_refused(base: str, service: tuple[str, str], change: dict[str, Any],
                                                 problem: str) -> None:
    import time

    key = new_key()
    token = bound_token(base, service, key)
    if change.get("iat") == "stale":
        change = {"iat": int(time.time()) - 61}  # dpop_proof_max_age is 60 s
    elif change.get("iat") == "future":
        change = {"iat": int(time.time()) + 30}
    elif change.get("ath") == "wrong":
        change = {"ath": make_proof(key, "GET", WHOAMI).split(".")[2][:43]}

    assert problem in refused(whoami(base, f"DPoP {token}", make_proof(key, "GET", WHOAMI, token=token, **change)),
                              "invalid_dpop_proof")


def test_query_and_fragment_of_htu_are_ignored_and_the_url_is_normalised(base: str, service: tuple[str, str]) -> None:
    key = new_key()
    token = bound_token(base, service, key)
    for htu in (f"{WHOAMI}?page=2", f"{WHOAMI}#top", "HTTPS://LOGIN.EXAMPLE:443/whoami"):
        answer = requests.get(f"{base}/whoami?page=2", timeout=10, headers={
            "Authorization": f"DPoP {token}", "DPoP": make_proof(key, "GET", htu, token=token)})
        assert answer.status_code == 200, (htu, answer.text)


def test_dpop_scheme_without_a_proof_is_refused(base: str, service: tuple[str, str]) -> None:
    token = bound_token(base, service, new_key())
    assert "needs a DPoP proof" in refused(whoami(base, f"DPoP {token}", None), "invalid_dpop_proof")


def test_an_unknown_token_with_a_proof_is_a_dpop_invalid_token(base: str) -> None:
    key = new_key()
    token = "x" * 48
    assert "unknown" in refused(whoami(base, f"DPoP {token}", make_proof(key, "GET", WHOAMI, token=token)),
                                "invalid_token")


def test_no_credentials_keep_the_bearer_challenge(base: str) -> None:
    answer = requests.get(f"{base}/protected", timeout=10)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="authhub"'


def test_a_malformed_dpop_header_is_a_bad_request(base: str) -> None:
    answer = whoami(base, "DPoP two words", make_proof(new_key(), "GET", WHOAMI))
    assert answer.status_code == 400
    assert answer.headers["WWW-Authenticate"].startswith('DPoP error="invalid_request"')


def test_resource_url_names_the_origin_proofs_are_for(
    authhub_make_hub: Callable[..., AuthHub], authhub_live_server: Callable[[AuthHub], str]
) -> None:
    hub = authhub_make_hub(schemes=["oauth"], oauth={"issuer": ISSUER, "resource_url": "https://api.example"})
    client, secret = create_client(hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    base = authhub_live_server(hub)
    key = new_key()
    token = bound_token(base, (client.client_id, str(secret)), key)

    assert whoami(base, f"DPoP {token}", make_proof(key, "GET", "https://api.example/whoami", token=token)
                  ).status_code == 200
    assert whoami(base, f"DPoP {token}", make_proof(key, "GET", WHOAMI, token=token)).status_code == 401


def test_without_a_configured_url_the_request_url_counts(
    authhub_make_hub: Callable[..., AuthHub], authhub_live_server: Callable[[AuthHub], str]
) -> None:
    """A resource server with neither ``resource_url`` nor ``issuer`` checks ``htu`` against the request's URL."""
    issuer = authhub_make_hub(schemes=["oauth"], oauth={"issuer": ISSUER})
    client, secret = create_client(issuer, name="svc", grant_types=["client_credentials"], scopes=["read"])
    key = new_key()
    token = bound_token(authhub_live_server(issuer), (client.client_id, str(secret)), key)
    api = authhub_make_hub(schemes=["oauth"], database_url=issuer.settings["database_url"])
    base = authhub_live_server(api)

    assert whoami(base, f"DPoP {token}", make_proof(key, "GET", f"{base}/whoami", token=token)).status_code == 200
    assert whoami(base, f"DPoP {token}", make_proof(key, "GET", WHOAMI, token=token)).status_code == 401


def test_asgi_dpop_requests_are_checked_in_a_thread(hub: AuthHub, base: str, service: tuple[str, str]) -> None:
    import asyncio

    key = new_key()
    token = bound_token(base, service, key)
    scope = {"type": "http", "method": "GET", "path": "/whoami", "query_string": b"", "scheme": "http",
             "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"DPoP {token}".encode()),
                         (b"dpop", make_proof(key, "GET", WHOAMI, token=token).encode())]}
    identity = asyncio.run(hub.aauthenticate(Request.from_asgi(scope, hub)))
    assert identity.user.username == f"client:{service[0]}"
    # The same proof again: refused, cache or not.
    with pytest.raises(authhub.AuthenticationFailed, match="already used"):
        asyncio.run(hub.aauthenticate(Request.from_asgi(scope, hub)))
    # A bound token as Bearer is refused on the event loop too, even once it is cached.
    bearer = {**scope, "headers": [(b"authorization", f"Bearer {token}".encode())]}
    with pytest.raises(authhub.AuthenticationFailed, match="bound to a DPoP key"):
        asyncio.run(hub.aauthenticate(Request.from_asgi(bearer, hub)))


# -- refresh tokens -------------------------------------------------------------------------------


def code_flow_tokens(base: str, browser: Browser, client_id: str, secret: str | None, key: Any) -> dict[str, Any]:
    from authlib.common.security import generate_token

    client = OAuth2Session(client_id, secret, scope="read", redirect_uri=REDIRECT_URI,
                           code_challenge_method="S256")
    verifier = generate_token(64)
    url, _state = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    location = browser.authorize(url).headers["Location"]
    token: dict[str, Any] = client.fetch_token(
        f"{base}/oauth/token", authorization_response=location, code_verifier=verifier,
        headers={**DEFAULT_HEADERS, "DPoP": make_proof(key, "POST", TOKEN_URL)})
    return token


def refresh(base: str, client_id: str, secret: str | None, refresh_token: str,
            proof: str | None) -> requests.Response:
    headers = {"DPoP": proof} if proof is not None else {}
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if secret is None:
        return requests.post(f"{base}/oauth/token", data={**data, "client_id": client_id}, headers=headers,
                             timeout=10)
    return requests.post(f"{base}/oauth/token", data=data, auth=(client_id, secret), headers=headers, timeout=10)


def test_a_public_clients_refresh_token_is_bound_too(base: str, browser: Browser, spa: str, alice: Any) -> None:
    key = new_key()
    token = code_flow_tokens(base, browser, spa, None, key)
    assert token["token_type"] == "DPoP"
    assert whoami(base, f"DPoP {token['access_token']}",
                  make_proof(key, "GET", WHOAMI, token=token["access_token"])).json()["user"] == "alice"

    without = refresh(base, spa, None, token["refresh_token"], None)
    assert without.status_code == 400 and without.json()["error"] == "invalid_dpop_proof"
    other = refresh(base, spa, None, token["refresh_token"], make_proof(new_key(), "POST", TOKEN_URL))
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    # Neither attempt used the refresh token up: its holder still refreshes, with the same key.
    renewed = refresh(base, spa, None, token["refresh_token"], make_proof(key, "POST", TOKEN_URL))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["token_type"] == "DPoP"
    fresh = renewed.json()["access_token"]
    assert whoami(base, f"DPoP {fresh}", make_proof(key, "GET", WHOAMI, token=fresh)).json()["user"] == "alice"


def test_a_confidential_client_may_refresh_without_a_proof(
    base: str, browser: Browser, webapp: tuple[str, str], alice: Any
) -> None:
    token = code_flow_tokens(base, browser, *webapp, new_key())
    assert token["token_type"] == "DPoP"

    # RFC 9449 §5: its refresh token is bound to its client authentication, not the key.
    renewed = refresh(base, *webapp, token["refresh_token"], None)
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["token_type"] == "Bearer"
    assert whoami(base, f"Bearer {renewed.json()['access_token']}", None).json()["user"] == "alice"


def test_settings_are_checked(authhub_make_hub: Callable[..., AuthHub]) -> None:
    for bad, message in (({"dpop_algorithms": ["ES256", "HS256"]}, "HS256 may not be accepted"),
                         ({"dpop_algorithms": ["XS999"]}, "unknown algorithm XS999"),
                         ({"dpop_proof_max_age": 0}, "positive"),
                         ({"resource_url": "https://api.example/v1"}, "must be an origin")):
        with pytest.raises(authhub.ConfigurationError, match=message):
            authhub_make_hub(schemes=["oauth"], oauth=bad)


def test_the_scheme_keeps_one_replay_record(hub: AuthHub) -> None:
    scheme = hub.find_scheme(OAuthScheme)
    assert scheme.server.dpop_proofs is not None
    assert scheme.server.dpop_proofs is scheme.resource.proofs


def test_an_introspecting_resource_server_reads_the_binding(
    base: str, hub: AuthHub, service: tuple[str, str], authhub_make_hub: Callable[..., AuthHub], tmp_path: Any
) -> None:
    api_client, api_secret = create_client(hub, name="Orders API", grant_types=["client_credentials"],
                                           may_introspect=True)
    api = authhub_make_hub(schemes=["oauth"], database_url=f"sqlite:///{tmp_path / 'api.db'}", oauth={
        "token_source": "introspection", "introspection_url": f"{base}/oauth/introspect",
        "introspection_client_id": api_client.client_id, "introspection_client_secret": str(api_secret),
        "resource_url": "https://api.example",
    })
    key = new_key()
    token = bound_token(base, service, key)

    with pytest.raises(authhub.AuthenticationFailed, match="bound to a DPoP key"):
        _ = Request("GET", "/orders", [("Authorization", f"Bearer {token}")], hub=api).user
    proof = make_proof(key, "GET", "https://api.example/orders", token=token)
    request = Request("GET", "/orders", [("Authorization", f"DPoP {token}"), ("DPoP", proof)], hub=api)
    assert request.user.username == f"client:{service[0]}"
    assert request.auth.jkt == thumbprint(key.as_dict(private=False))
