"""``oauth.access_token_format = "jwt"``: RFC 9068 access tokens, verified by others with the JWKS, revocable here.

Tokens come from the live server through Authlib's clients (the async one
too); their signatures and claims are checked with joserfc against the
published JWKS, as any other service would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from authhub import AuthHub, ConfigurationError, Request
from authhub_oauth import InvalidToken, OAuthScheme
from authhub_oauth.clients import create_client, delete_client, issue_token, revoke_tokens
from authhub_oauth.tokens import access_token_claims

from .conftest import PASSWORD, REDIRECT_URI, Browser
from .provider_fixtures import Served, issuer_server, published_keys

__all__ = ["issuer_server"]  # a fixture, used by name

JWT = {"access_token_format": "jwt"}


def service(hub: AuthHub) -> tuple[str, str]:
    client, secret = create_client(hub, name="Reporting", grant_types=["client_credentials"], scopes=["read", "write"])
    assert secret is not None
    return client.client_id, secret


def verified(base: str, token: str, audience: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of ``token``, checked as any resource server would: JWKS, typ, iss, aud, exp."""
    decoded = jwt.decode(token, published_keys(base), algorithms=["RS256", "ES256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": base}, aud={"essential": True, "value": audience or base},
        exp={"essential": True}, iat={"essential": True}, sub={"essential": True},
        client_id={"essential": True}, jti={"essential": True},
    ).validate(decoded.claims)
    return dict(decoded.header), dict(decoded.claims)


def whoami(base: str, token: str) -> requests.Response:
    return requests.get(f"{base}/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def identity(hub: AuthHub, token: str) -> Any:
    return Request("GET", "/", [("Authorization", f"Bearer {token}")], hub=hub).identity


def test_client_credentials_with_the_async_client(issuer_server: Callable[..., Served]) -> None:
    hub, base = issuer_server(oauth=JWT)
    client_id, secret = service(hub)

    async def fetch() -> dict[str, Any]:
        async with AsyncOAuth2Client(client_id, secret, scope="read") as client:
            token = await client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")
            answer = await client.get(f"{base}/whoami")
            assert answer.json() == {"authenticated": True, "user": f"client:{client_id}", "scheme": "oauth"}
            return dict(token)

    token = asyncio.run(fetch())
    assert token["token_type"] == "Bearer"
    header, claims = verified(base, token["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] == published_keys(base).keys[0].kid
    assert claims["iss"] == base
    assert claims["aud"] == base  # the default audience: the issuer
    assert claims["sub"] == client_id  # the client acts for itself
    assert claims["client_id"] == client_id
    assert claims["scope"] == "read"
    assert claims["exp"] - claims["iat"] == 3600 == token["expires_in"]
    assert len(claims["jti"]) >= 32


def test_code_flow_jwt_names_the_user_and_the_configured_audience(issuer_server: Callable[..., Served]) -> None:
    hub, base = issuer_server(oauth={**JWT, "access_token_audience": "https://api.example"})
    alice = hub.users.create("alice", PASSWORD)
    client, secret = create_client(hub, name="Web app", grant_types=["authorization_code", "refresh_token"],
                                   redirect_uris=[REDIRECT_URI], scopes=["read"])
    session = OAuth2Session(client.client_id, secret, scope="read", redirect_uri=REDIRECT_URI,
                            code_challenge_method="S256")
    verifier = generate_token(64)
    url, state = session.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    location = Browser(base).authorize(url).headers["Location"]
    token = session.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier,
                                state=state)

    _, claims = verified(base, token["access_token"], audience="https://api.example")
    assert claims["sub"] == str(alice.id)
    assert claims["aud"] == "https://api.example"
    assert session.get(f"{base}/whoami").json()["user"] == "alice"
    assert session.introspect_token(f"{base}/oauth/introspect", token=token["access_token"]).json()["active"] is True
    refreshed = session.refresh_token(f"{base}/oauth/token")
    assert verified(base, refreshed["access_token"], audience="https://api.example")[1]["sub"] == str(alice.id)
    assert not refreshed["refresh_token"].count(".")  # refresh tokens stay opaque


def test_es256_access_tokens(issuer_server: Callable[..., Served]) -> None:
    hub, base = issuer_server(oauth={**JWT, "access_token_signing_alg": "ES256"})
    client_id, secret = service(hub)
    token = OAuth2Session(client_id, secret).fetch_token(f"{base}/oauth/token", grant_type="client_credentials")
    header, _ = verified(base, token["access_token"])
    assert header["alg"] == "ES256"
    assert {(key["kty"], key["alg"]) for key in requests.get(f"{base}/oauth/jwks", timeout=10).json()["keys"]} == {
        ("EC", "ES256"), ("RSA", "RS256")}  # RS256 for ID tokens
    assert whoami(base, token["access_token"]).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_revocation_cuts_a_jwt_here_and_in_another_hub_even_from_its_cache(
    issuer_server: Callable[..., Served], authhub_make_hub: Callable[..., AuthHub], request: pytest.FixtureRequest,
    backend: str,
) -> None:
    database = {"database_url": request.getfixturevalue("authhub_postgres_url")} if backend == "postgresql" else {}
    hub, base = issuer_server(oauth=JWT, **database)
    client_id, secret = service(hub)
    session = OAuth2Session(client_id, secret)
    token = session.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")["access_token"]
    other = authhub_make_hub(schemes=["oauth"], oauth={"issuer": base, **JWT}, **database)  # another process
    assert other.changes.wait_until_current()
    assert identity(other, token).user.username == f"client:{client_id}"
    assert identity(other, token).user.username == f"client:{client_id}"  # now a cache hit

    assert session.revoke_token(f"{base}/oauth/revoke", token=token).status_code == 200
    answer = whoami(base, token)
    assert answer.status_code == 401
    assert 'error_description="The access token was revoked."' in answer.headers["WWW-Authenticate"]
    deadline = time.monotonic() + 2
    while True:
        try:
            identity(other, token)
        except InvalidToken as error:
            assert error.detail == "The access token was revoked."
            break
        assert time.monotonic() < deadline, "the other hub still accepts a revoked JWT after 2 s"
        time.sleep(0.02)


def test_the_revocation_list_is_checked_on_cache_hits(issuer_server: Callable[..., Served]) -> None:
    """A cached answer is refused once its jti is announced revoked, even without the digest's announcement."""
    hub, _ = issuer_server(oauth=JWT)
    client_id, _ = service(hub)
    token = issue_token(hub, client_id, None, ["read"])
    assert hub.changes.wait_until_current()
    assert identity(hub, token).user.username == f"client:{client_id}"
    scheme = hub.find_scheme(OAuthScheme)
    assert scheme.resource.cache is not None and len(scheme.resource.cache) == 1  # kept

    jti = identity(hub, token).auth.jti
    scheme.invalidated("oauth-jti", jti)  # the list alone learns it; the cache entry stays
    assert len(scheme.resource.cache) == 1
    with pytest.raises(Exception, match="revoked"):
        identity(hub, token)


def test_the_revocation_list_comes_from_the_store_in_a_new_process(
    issuer_server: Callable[..., Served], authhub_make_hub: Callable[..., AuthHub]
) -> None:
    hub, base = issuer_server(oauth=JWT)
    client_id, _ = service(hub)
    token = issue_token(hub, client_id, None, ["read"])
    assert revoke_tokens(hub, token=token) == 1

    later = authhub_make_hub(schemes=["oauth"], oauth={"issuer": base, **JWT})
    assert not later.changes.current  # the channel is not up yet: the store is asked
    with pytest.raises(Exception, match="revoked"):
        identity(later, token)
    assert later.changes.wait_until_current()
    with pytest.raises(Exception, match="revoked"):
        identity(later, token)  # now from the list in memory, read from the store


def test_deleting_the_client_cuts_its_jwts(issuer_server: Callable[..., Served],
                                           authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub, base = issuer_server(oauth=JWT)
    client_id, _ = service(hub)
    token = issue_token(hub, client_id, None, ["read"])
    assert whoami(base, token).status_code == 200
    delete_client(hub, client_id)
    assert whoami(base, token).status_code == 401
    with pytest.raises(Exception, match="revoked"):
        identity(authhub_make_hub(schemes=["oauth"], oauth={"issuer": base, **JWT}), token)


def test_a_user_deactivated_in_the_applications_store_is_refused(
    issuer_server: Callable[..., Served], authhub_account_hub: Callable[..., AuthHub]
) -> None:
    hub, base = issuer_server(oauth=JWT, make_hub=authhub_account_hub)
    alice = hub.users.add("alice", PASSWORD)
    client_id, _ = service(hub)
    token = issue_token(hub, client_id, alice, ["read"])
    assert verified(base, token)[1]["sub"] == str(alice.id)
    assert whoami(base, token).json()["user"] == "alice"
    hub.users.disable("alice")  # behind authhub's back
    answer = whoami(base, token)
    assert answer.status_code == 401
    assert "inactive" in answer.headers["WWW-Authenticate"]


def test_forged_expired_and_id_tokens_are_refused(issuer_server: Callable[..., Served]) -> None:
    hub, base = issuer_server(oauth=JWT)
    client_id, _ = service(hub)
    good = issue_token(hub, client_id, None, ["read"])
    header, claims = verified(base, good)
    current = hub.find_scheme(OAuthScheme).server.keys.current("RS256")

    def signed(key: Any, **changes: Any) -> str:
        return jwt.encode({**header, **changes.pop("header", {})}, {**claims, **changes}, key, algorithms=["RS256"])

    cases = {
        # another key claiming the published kid
        signed(RSAKey.generate_key(2048, private=True)): "signature",
        # a kid nobody published
        signed(RSAKey.generate_key(2048, private=True), header={"kid": "made-up"}): "does not publish",
        signed(current.private, exp=int(time.time()) - 60): "expired",
        signed(current.private, iss="https://other.example"): "'iss'",
        signed(current.private, aud="https://other.example"): "'aud'",
        signed(current.private, header={"typ": "JWT"}): "at+jwt",  # an ID token's type
        # the public key's modulus as an HMAC secret: the classic algorithm confusion
        jwt.encode({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}, claims,
                   OctKey.import_key(published_keys(base).keys[0].as_dict()["n"].encode()),
                   algorithms=["HS256"]): "not a valid JWT",
    }
    for token, problem in cases.items():
        answer = whoami(base, token)
        assert answer.status_code == 401, problem
        assert problem in answer.headers["WWW-Authenticate"], (problem, answer.headers["WWW-Authenticate"])
    assert whoami(base, signed(current.private)).status_code == 200  # the same, untouched, passes


def test_claims_are_made_in_one_place() -> None:
    """The hook other features extend (DPoP's cnf): user or client as sub, the scope only when there is one."""
    user = type("U", (), {"id": 7})()
    claims = access_token_claims(issuer="https://a.example", audience="https://api.example", client_id="app",
                                 user=user, scope="", issued_at=100, lifetime=60)
    assert {key: claims[key] for key in ("iss", "sub", "aud", "client_id", "iat", "exp")} == {
        "iss": "https://a.example", "sub": "7", "aud": "https://api.example", "client_id": "app", "iat": 100,
        "exp": 160}
    assert "scope" not in claims
    assert access_token_claims(issuer="i", audience="a", client_id="app", user=None, scope="read", issued_at=1,
                               lifetime=1)["sub"] == "app"


def test_jwts_issued_before_switching_back_to_opaque_keep_working(
    issuer_server: Callable[..., Served], authhub_make_hub: Callable[..., AuthHub]
) -> None:
    hub, base = issuer_server(oauth=JWT)
    client_id, _ = service(hub)
    token = issue_token(hub, client_id, None, ["read"])
    opaque = authhub_make_hub(schemes=["oauth"], oauth={"issuer": base})
    assert identity(opaque, token).user.username == f"client:{client_id}"
    assert "." not in issue_token(opaque, client_id, None, ["read"])


@pytest.mark.parametrize(("oauth", "message"), [
    ({"access_token_format": "jwt"}, "oauth.issuer: required when oauth.access_token_format is 'jwt'"),
    ({"access_token_format": "paseto"}, "oauth.access_token_format: expected one of opaque, jwt"),
    ({"issuer": "https://a.example", "access_token_signing_alg": "HS256"}, "oauth.access_token_signing_alg"),
    ({"key_encryption_key": "too-short"}, "oauth.key_encryption_key: must be 32 random bytes"),
    ({"id_token_lifetime": 0}, "oauth.id_token_lifetime: must be a positive number"),
])
def test_settings_that_cannot_work_are_refused(authhub_make_hub: Callable[..., AuthHub], oauth: dict[str, Any],
                                               message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        authhub_make_hub(schemes=["oauth"], oauth=oauth)
    assert "too-short" not in str(refused.value)  # a key is never repeated


def test_asgi_answers_a_cached_jwt_on_the_event_loop_and_refuses_it_once_revoked(
    authhub_make_hub: Callable[..., AuthHub]
) -> None:
    from authhub.asgi import AuthMiddleware

    from .test_asgi import whoami as asgi_whoami

    hub = authhub_make_hub(schemes=["oauth"], oauth={"issuer": "https://auth.example", **JWT})
    client_id, _ = service(hub)
    token = issue_token(hub, client_id, None, ["read"])
    assert hub.changes.wait_until_current()
    resource = hub.find_scheme(OAuthScheme).resource

    async def call() -> Any:
        import httpx

        transport = httpx.ASGITransport(app=AuthMiddleware(asgi_whoami, hub, required=True))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/", headers={"Authorization": f"Bearer {token}"})

    assert asyncio.run(call()).text == f"oauth:client:{client_id}"  # checked in a thread, then kept
    checked_in_a_thread = resource.authenticate
    resource.authenticate = lambda request: pytest.fail("a cached JWT went to a thread")  # type: ignore[method-assign]
    assert asyncio.run(call()).text == f"oauth:client:{client_id}"
    resource.authenticate = checked_in_a_thread  # type: ignore[method-assign]

    assert revoke_tokens(hub, token=token) == 1
    answer = asyncio.run(call())
    assert answer.status_code == 401
    assert "revoked" in answer.headers["www-authenticate"]


def test_a_dpop_bound_jwt_carries_its_key_and_is_refused_as_a_bearer_token(
    issuer_server: Callable[..., Served]
) -> None:
    from .dpop_proofs import make_proof, new_key, thumbprint

    hub, base = issuer_server(oauth=JWT)
    client_id, secret = service(hub)
    key = new_key()
    answer = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret),
                           headers={"DPoP": make_proof(key, "POST", f"{base}/oauth/token")}, timeout=10)
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert token["token_type"] == "DPoP"
    _, claims = verified(base, token["access_token"])
    assert claims["cnf"] == {"jkt": thumbprint(key.as_dict(private=False))}

    assert whoami(base, token["access_token"]).status_code == 401  # a stolen bound token alone is useless
    bound = requests.get(f"{base}/whoami", timeout=10, headers={
        "Authorization": f"DPoP {token['access_token']}",
        "DPoP": make_proof(key, "GET", f"{base}/whoami", token=token["access_token"])})
    assert bound.json()["user"] == f"client:{client_id}"
