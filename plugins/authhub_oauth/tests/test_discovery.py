"""A resource server configured by its issuer alone: ``jwks_uri`` found by discovery, keys refetched with a limit.

The issuer is a real HTTP server on a loopback port (:class:`LocalIssuer`)
publishing documents shaped like Keycloak's, Auth0's and Entra's; the API is
authhub's reference server (``authhub_live_server``).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from joserfc.jwk import ECKey, RSAKey

import authhub
from authhub import AuthHub, Request
from authhub_oauth import OAuthScheme
from authhub_oauth.jwks import metadata_urls
from authhub_oauth.validators import JWTTokenValidator

from .dpop_proofs import make_proof, new_key, thumbprint
from .local_issuer import LocalIssuer, sign

AUDIENCE = "https://api.example"


@pytest.fixture
def keycloak() -> Iterator[LocalIssuer]:
    """A Keycloak-shaped realm: the issuer has a path, keys at ``/protocol/openid-connect/certs``."""
    issuer = LocalIssuer("/realms/demo")
    base = issuer.issuer
    issuer.publish("/realms/demo/.well-known/openid-configuration", {
        "issuer": base,
        "authorization_endpoint": f"{base}/protocol/openid-connect/auth",
        "token_endpoint": f"{base}/protocol/openid-connect/token",
        "introspection_endpoint": f"{base}/protocol/openid-connect/token/introspect",
        "userinfo_endpoint": f"{base}/protocol/openid-connect/userinfo",
        "end_session_endpoint": f"{base}/protocol/openid-connect/logout",
        "jwks_uri": f"{base}/protocol/openid-connect/certs",
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password", "client_credentials"],
        "response_types_supported": ["code", "none", "id_token", "token", "id_token token", "code id_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["PS384", "ES384", "RS384", "HS256", "HS512", "ES256", "RS256"],
        "scopes_supported": ["openid", "profile", "email", "roles", "web-origins"],
        "dpop_signing_alg_values_supported": ["PS384", "ES384", "RS384", "ES256", "RS256", "PS256", "RS512"],
        "code_challenge_methods_supported": ["plain", "S256"],
    })
    yield issuer
    issuer.stop()


@pytest.fixture
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": "k1", "use": "sig", "alg": "RS256"}, private=True)


@pytest.fixture
def published(keycloak: LocalIssuer, signing_key: RSAKey) -> RSAKey:
    # Keycloak publishes an encryption key beside the signing key; it is never used for signatures.
    encryption = RSAKey.generate_key(2048, {"kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"}, private=True)
    keycloak.publish_keys("/realms/demo/protocol/openid-connect/certs", [signing_key, encryption])
    return signing_key


def api_hub(make: Callable[..., AuthHub], issuer: str, **oauth: Any) -> AuthHub:
    hub = make(schemes=["oauth"], oauth={"token_source": "jwt", "jwt_issuer": issuer, "jwt_audience": AUDIENCE,
                                         "http_timeout": 2.0, **oauth})
    if hub.users.get_by_username("alice") is None:  # hubs of one test share a database
        hub.users.create("alice", "correct horse battery staple")
    return hub


def identity(hub: AuthHub, token: str) -> Any:
    return Request("GET", "/whoami", [("Authorization", f"Bearer {token}")], hub=hub).identity


def refusal(hub: AuthHub, token: str) -> authhub.AuthhubError:
    with pytest.raises(authhub.AuthhubError) as caught:
        identity(hub, token)
    return caught.value


def key_source(hub: AuthHub) -> Any:
    validator = hub.find_scheme(OAuthScheme).resource.validator
    assert isinstance(validator, JWTTokenValidator)
    return validator.keys


CERTS = "/realms/demo/protocol/openid-connect/certs"
OIDC = "/realms/demo/.well-known/openid-configuration"


def test_metadata_urls() -> None:
    assert metadata_urls("https://id.example/realms/demo") == [
        "https://id.example/realms/demo/.well-known/openid-configuration",
        "https://id.example/.well-known/oauth-authorization-server/realms/demo",
    ]
    assert metadata_urls("https://tenant.auth0.example/") == [
        "https://tenant.auth0.example/.well-known/openid-configuration",
        "https://tenant.auth0.example/.well-known/oauth-authorization-server",
    ]


def test_keycloak_issuer_found_by_discovery_over_http(
    authhub_make_hub: Callable[..., AuthHub], authhub_live_server: Callable[[AuthHub], str],
    keycloak: LocalIssuer, published: RSAKey,
) -> None:
    base = authhub_live_server(api_hub(authhub_make_hub, keycloak.issuer))
    for _ in range(3):
        good = requests.get(f"{base}/whoami", timeout=10,
                            headers={"Authorization": f"Bearer {sign(published, keycloak.issuer, AUDIENCE)}"})
        assert good.json() == {"authenticated": True, "user": "alice", "scheme": "oauth"}
    other_audience = sign(published, keycloak.issuer, "https://other.example")
    bad = requests.get(f"{base}/whoami", headers={"Authorization": f"Bearer {other_audience}"}, timeout=10)
    assert bad.status_code == 401
    assert "'aud' claim is not accepted" in bad.headers["WWW-Authenticate"]

    # The metadata was read once and the keys fetched once for every token.
    assert keycloak.count(OIDC) == 1
    assert keycloak.count(CERTS) == 1


def test_rfc8414_metadata_when_there_is_no_openid_configuration(
    authhub_make_hub: Callable[..., AuthHub], signing_key: RSAKey
) -> None:
    issuer = LocalIssuer("/tenant-a")
    try:
        issuer.publish("/.well-known/oauth-authorization-server/tenant-a", {
            "issuer": issuer.issuer, "token_endpoint": f"{issuer.issuer}/token", "jwks_uri": f"{issuer.origin}/keys",
        })
        issuer.publish_keys("/keys", [signing_key])
        hub = api_hub(authhub_make_hub, issuer.issuer)

        assert identity(hub, sign(signing_key, issuer.issuer, AUDIENCE)).user.username == "alice"
        assert issuer.count("/tenant-a/.well-known/openid-configuration") == 1  # tried first: 404
    finally:
        issuer.stop()


def test_auth0_and_entra_shaped_documents(authhub_make_hub: Callable[..., AuthHub]) -> None:
    # Auth0: the issuer ends with a slash, which the tokens' 'iss' repeats.
    auth0 = LocalIssuer("/")
    # Entra ID: the issuer has the tenant and the version in its path; the keys live elsewhere.
    entra = LocalIssuer("/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")
    try:
        for issuer, jwks_path in ((auth0, "/.well-known/jwks.json"),
                                  (entra, "/9188040d-6c67-4c5b-b112-36a304b66dad/discovery/v2.0/keys")):
            path = issuer.issuer.removeprefix(issuer.origin).rstrip("/")
            issuer.publish(f"{path}/.well-known/openid-configuration", {
                "issuer": issuer.issuer, "jwks_uri": f"{issuer.origin}{jwks_path}",
                "token_endpoint": f"{issuer.origin}{path}/oauth2/token", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            })
            key = RSAKey.generate_key(2048, {"kid": secrets.token_hex(8), "use": "sig"}, private=True)
            issuer.publish_keys(jwks_path, [key])
            hub = api_hub(authhub_make_hub, issuer.issuer)
            assert identity(hub, sign(key, issuer.issuer, AUDIENCE)).user.username == "alice"
    finally:
        auth0.stop()
        entra.stop()


def test_metadata_of_another_issuer_is_not_used(
    authhub_make_hub: Callable[..., AuthHub], keycloak: LocalIssuer, published: RSAKey
) -> None:
    # A document that names another issuer (a misconfigured proxy, a mix-up): never trusted.
    keycloak.publish(OIDC, {"issuer": "https://evil.example",
                            "jwks_uri": f"{keycloak.issuer}/protocol/openid-connect/certs"})
    hub = api_hub(authhub_make_hub, keycloak.issuer)

    error = refusal(hub, sign(published, keycloak.issuer, AUDIENCE))
    assert isinstance(error, authhub.StoreUnavailable)
    assert error.status_code == 503
    assert keycloak.count(CERTS) == 0


def test_a_new_key_is_picked_up_within_seconds(
    authhub_make_hub: Callable[..., AuthHub], keycloak: LocalIssuer, published: RSAKey
) -> None:
    hub = api_hub(authhub_make_hub, keycloak.issuer, jwks_min_refresh_seconds=1.0)
    assert identity(hub, sign(published, keycloak.issuer, AUDIENCE)).is_authenticated

    rotated = RSAKey.generate_key(2048, {"kid": "k2", "use": "sig"}, private=True)
    keycloak.publish_keys(CERTS, [published, rotated])
    started = time.monotonic()
    while True:
        try:
            accepted = identity(hub, sign(rotated, keycloak.issuer, AUDIENCE))
            break
        except authhub.AuthenticationFailed as error:
            assert error.detail == "The access token was signed with an unknown key."
            assert time.monotonic() - started < 5, "the new key was not picked up"
            time.sleep(0.1)
    waited = time.monotonic() - started
    print(f"new key accepted {waited:.2f} s after it was published (jwks_min_refresh_seconds = 1)")
    assert accepted.user.username == "alice"
    assert waited < 2.5
    assert keycloak.count(CERTS) == 2  # the first fetch, and one more for the new kid


@pytest.mark.parametrize("min_refresh", [5.0, 0.5])
def test_a_flood_of_made_up_kids_never_hammers_the_issuer(
    authhub_make_hub: Callable[..., AuthHub], keycloak: LocalIssuer, published: RSAKey, min_refresh: float
) -> None:
    hub = api_hub(authhub_make_hub, keycloak.issuer, jwks_min_refresh_seconds=min_refresh)  # 5 s is the default
    assert identity(hub, sign(published, keycloak.issuer, AUDIENCE)).is_authenticated
    impostor = RSAKey.generate_key(2048, private=True)
    tokens = [sign(impostor, keycloak.issuer, AUDIENCE, kid=secrets.token_hex(8)) for _ in range(50)]
    refusals: list[str] = []
    started = time.monotonic()

    def flood() -> None:
        while time.monotonic() - started < 2.0:  # bounded: two seconds of four clients
            for token in tokens:
                try:
                    identity(hub, token)
                except authhub.AuthenticationFailed as error:
                    refusals.append(error.detail)

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    assert set(refusals) == {"The access token was signed with an unknown key."}
    fetches = keycloak.count(CERTS)
    print(f"{len(refusals)} tokens with made-up kids in {elapsed:.2f} s, jwks_min_refresh_seconds = "
          f"{min_refresh}: {fetches} JWKS fetch(es)")
    assert len(refusals) >= 200
    assert fetches <= 1 + math.ceil(elapsed / min_refresh)
    if min_refresh < elapsed:
        assert fetches >= 2  # unknown kids do ask again, once the interval has passed


def test_an_unpublished_key_with_a_known_kid_is_refused(
    authhub_make_hub: Callable[..., AuthHub], keycloak: LocalIssuer, published: RSAKey
) -> None:
    hub = api_hub(authhub_make_hub, keycloak.issuer)
    impostor = RSAKey.generate_key(2048, {"kid": "k1"}, private=True)
    error = refusal(hub, sign(impostor, keycloak.issuer, AUDIENCE))
    assert error.detail == "The access token's signature is invalid."
    # Signed by the encryption key's kid: that key is published, but not the one that signed.
    assert refusal(hub, sign(impostor, keycloak.issuer, AUDIENCE, kid="enc-1")).status_code == 401
    assert keycloak.count(CERTS) == 1  # known kids need no fetch


def test_an_unreachable_issuer_keeps_cached_keys_working(
    authhub_make_hub: Callable[..., AuthHub], keycloak: LocalIssuer, published: RSAKey
) -> None:
    hub = api_hub(authhub_make_hub, keycloak.issuer, jwks_min_refresh_seconds=0.0, jwks_cache_seconds=0)
    assert identity(hub, sign(published, keycloak.issuer, AUDIENCE)).is_authenticated
    keycloak.stop()

    # The keys are stale (jwks_cache_seconds = 0) and cannot be fetched again: they keep working.
    assert identity(hub, sign(published, keycloak.issuer, AUDIENCE)).user.username == "alice"
    # A token that needs a fetch is not refused as bad: the issuer is down (503).
    started = time.monotonic()
    error = refusal(hub, sign(RSAKey.generate_key(2048, private=True), keycloak.issuer, AUDIENCE, kid="k9"))
    assert isinstance(error, authhub.StoreUnavailable)
    assert error.detail == "The token issuer's keys are unavailable."
    assert time.monotonic() - started < 2.5  # a refused connection, within http_timeout
    # A resource server started while the issuer is down answers 503 too.
    fresh = api_hub(authhub_make_hub, keycloak.issuer)
    assert isinstance(refusal(fresh, sign(published, keycloak.issuer, AUDIENCE)), authhub.StoreUnavailable)


def test_the_event_loop_never_waits_for_the_issuer(
    authhub_make_hub: Callable[..., AuthHub], keycloak: LocalIssuer, published: RSAKey
) -> None:
    hub = api_hub(authhub_make_hub, keycloak.issuer)
    keycloak.delay = 0.5  # a slow issuer: metadata and keys take a second together

    async def run() -> tuple[Any, float]:
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        beating = asyncio.create_task(ticker())
        scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": [
            (b"authorization", f"Bearer {sign(published, keycloak.issuer, AUDIENCE)}".encode())]}
        answer = await hub.aauthenticate(Request.from_asgi(scope, hub))
        beating.cancel()
        return answer, max(later - earlier for earlier, later in itertools.pairwise(ticks))

    answer, longest_pause = asyncio.run(run())
    assert answer.user.username == "alice"
    assert keycloak.count(CERTS) == 1
    assert longest_pause < 0.2  # the loop kept running while the thread waited a second


def test_an_issuer_over_plain_http_to_another_host_is_a_configuration_error(
    authhub_make_hub: Callable[..., AuthHub]
) -> None:
    with pytest.raises(authhub.ConfigurationError, match="oauth.jwt_issuer"):
        authhub_make_hub(schemes=["oauth"], oauth={"token_source": "jwt", "jwt_issuer": "http://id.example",
                                                   "jwt_audience": AUDIENCE})


def test_a_jwt_bound_by_cnf_needs_a_dpop_proof(
    authhub_make_hub: Callable[..., AuthHub], keycloak: LocalIssuer, published: RSAKey
) -> None:
    hub = api_hub(authhub_make_hub, keycloak.issuer, resource_url="https://api.example")
    key = new_key()
    token = sign(published, keycloak.issuer, AUDIENCE, cnf={"jkt": thumbprint(key.as_dict(private=False))})

    with pytest.raises(authhub.AuthenticationFailed, match="bound to a DPoP key"):
        identity(hub, token)
    proof = make_proof(key, "GET", "https://api.example/whoami", token=token)
    request = Request("GET", "/whoami", [("Authorization", f"DPoP {token}"), ("DPoP", proof)], hub=hub)
    assert request.user.username == "alice"
    assert request.auth.jkt == thumbprint(key.as_dict(private=False))
    # A token bound to a certificate (RFC 8705) cannot be checked here: refused, never taken as bearer.
    mtls = sign(published, keycloak.issuer, AUDIENCE, cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})
    assert "cannot check" in refusal(hub, mtls).detail


def test_ec_keys_from_discovery(authhub_make_hub: Callable[..., AuthHub], keycloak: LocalIssuer) -> None:
    key = ECKey.generate_key("P-256", {"kid": "ec-1"}, private=True)
    keycloak.publish_keys(CERTS, [key])
    hub = api_hub(authhub_make_hub, keycloak.issuer)
    assert identity(hub, sign(key, keycloak.issuer, AUDIENCE, alg="ES256")).user.username == "alice"
    assert key_source(hub).fetches == 1
