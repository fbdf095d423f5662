"""A resource server that asks a remote authorization server about tokens (RFC 7662)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from authhub import AuthHub, Request, StoreUnavailable
from authhub_oauth import InvalidToken, OAuthScheme
from authhub_oauth.clients import create_client, delete_client, revoke_tokens
from authhub_oauth.models import digest
from authhub_oauth.validators import IntrospectionValidator

from .provider_fixtures import issuer, issuer_base

__all__ = ["issuer", "issuer_base"]  # fixtures, used by name


@pytest.fixture
def api_credentials(issuer: AuthHub) -> tuple[str, str]:
    """The resource server's own client at the issuer, allowed to introspect any token."""
    client, secret = create_client(issuer, name="Orders API", grant_types=["client_credentials"], may_introspect=True)
    assert secret is not None
    return client.client_id, secret


def api_hub(make: Callable[..., AuthHub], url: str, credentials: tuple[str, str], cache_seconds: int,
            cache_size: int = 1024) -> AuthHub:
    return make(schemes=["oauth"], oauth={
        "token_source": "introspection", "introspection_url": url,
        "introspection_client_id": credentials[0], "introspection_client_secret": credentials[1],
        "introspection_cache_seconds": cache_seconds, "introspection_cache_size": cache_size,
    })


def validator_of(hub: AuthHub) -> IntrospectionValidator:
    validator = hub.find_scheme(OAuthScheme).resource.validator
    assert isinstance(validator, IntrospectionValidator)
    return validator


def service_token(issuer: AuthHub, base: str) -> tuple[str, str]:
    client, secret = create_client(issuer, name="Batch job", grant_types=["client_credentials"], scopes=["orders"])
    token = OAuth2Session(client.client_id, secret).fetch_token(f"{base}/oauth/token", grant_type="client_credentials")
    return client.client_id, token["access_token"]


def identity(hub: AuthHub, token: str) -> object:
    return Request("GET", "/", [("Authorization", f"Bearer {token}")], hub=hub).identity


def test_introspected_token_authenticates_and_is_cached(
    authhub_make_hub: Callable[..., AuthHub], issuer: AuthHub, issuer_base: str, api_credentials: tuple[str, str]
) -> None:
    api = api_hub(authhub_make_hub, f"{issuer_base}/oauth/introspect", api_credentials, cache_seconds=60)
    client_id, token = service_token(issuer, issuer_base)

    found = identity(api, token)
    assert found.user.username == f"client:{client_id}"  # type: ignore[attr-defined]
    assert found.auth.scopes == {"orders"}  # type: ignore[attr-defined]
    assert found.auth.source == "introspection"  # type: ignore[attr-defined]

    # Revoked at the issuer, still accepted from the cache: the cache is what saves a round trip.
    assert revoke_tokens(issuer, token=token) == 1
    assert identity(api, token).auth.client_id == client_id  # type: ignore[attr-defined]


def test_without_cache_a_revoked_token_is_refused_at_once(
    authhub_make_hub: Callable[..., AuthHub], issuer: AuthHub, issuer_base: str, api_credentials: tuple[str, str]
) -> None:
    api = api_hub(authhub_make_hub, f"{issuer_base}/oauth/introspect", api_credentials, cache_seconds=0)
    client_id, token = service_token(issuer, issuer_base)
    assert identity(api, token).auth.client_id == client_id  # type: ignore[attr-defined]

    assert revoke_tokens(issuer, token=token) == 1
    with pytest.raises(InvalidToken, match="not active"):
        identity(api, token)


def test_unknown_token_is_refused(
    authhub_make_hub: Callable[..., AuthHub], issuer_base: str, api_credentials: tuple[str, str]
) -> None:
    api = api_hub(authhub_make_hub, f"{issuer_base}/oauth/introspect", api_credentials, cache_seconds=60)
    with pytest.raises(InvalidToken):
        identity(api, "no-such-token")


def test_client_without_permission_learns_nothing_of_other_clients_tokens(
    issuer: AuthHub, issuer_base: str
) -> None:
    _client_id, token = service_token(issuer, issuer_base)
    nosy, secret = create_client(issuer, name="Nosy", grant_types=["client_credentials"])
    answer = requests.post(f"{issuer_base}/oauth/introspect", data={"token": token},
                           auth=(nosy.client_id, secret or ""), timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"active": False}


def test_introspection_needs_client_authentication(issuer: AuthHub, issuer_base: str) -> None:
    _client_id, token = service_token(issuer, issuer_base)
    answer = requests.post(f"{issuer_base}/oauth/introspect", data={"token": token}, timeout=10)
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] == "invalid_client"


def test_unreachable_introspection_endpoint_fails_closed(authhub_make_hub: Callable[..., AuthHub]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = api_hub(authhub_make_hub, f"http://127.0.0.1:{port}/oauth/introspect", ("id", "secret"), cache_seconds=60)
    with pytest.raises(StoreUnavailable):
        identity(api, "some-token")


def test_cache_is_bounded_and_never_outlives_the_token(
    authhub_make_hub: Callable[..., AuthHub], issuer: AuthHub, issuer_base: str, api_credentials: tuple[str, str]
) -> None:
    # Kept for two hours at most; the issuer's tokens live one.
    api = api_hub(authhub_make_hub, f"{issuer_base}/oauth/introspect", api_credentials, cache_seconds=7200,
                  cache_size=2)
    cache = validator_of(api).cache
    assert cache is not None
    tokens = [service_token(issuer, issuer_base)[1] for _ in range(3)]
    for token in tokens:
        identity(api, token)
    assert len(cache) == 2
    assert cache.get(digest(tokens[0])) is None
    kept = cache.get(digest(tokens[2]))
    assert kept is not None and kept.answer["active"] is True

    exp = kept.answer["exp"]
    assert cache.get(digest(tokens[2]), now=exp - 1) is not None
    assert cache.get(digest(tokens[2]), now=exp) is None  # the token's own expiry, sooner than two hours


def test_without_cache_seconds_nothing_is_kept(
    authhub_make_hub: Callable[..., AuthHub], issuer_base: str, api_credentials: tuple[str, str]
) -> None:
    api = api_hub(authhub_make_hub, f"{issuer_base}/oauth/introspect", api_credentials, cache_seconds=0)
    assert validator_of(api).cache is None


def test_invalidations_drop_kept_answers(
    authhub_make_hub: Callable[..., AuthHub], issuer: AuthHub, issuer_base: str, api_credentials: tuple[str, str]
) -> None:
    """A revocation or client deletion announced to the resource server's hub ends the cached answer."""
    api = api_hub(authhub_make_hub, f"{issuer_base}/oauth/introspect", api_credentials, cache_seconds=60)
    client_id, token = service_token(issuer, issuer_base)
    other_client, other_token = service_token(issuer, issuer_base)
    identity(api, token)
    identity(api, other_token)
    assert revoke_tokens(issuer, token=token) == 1
    assert identity(api, token).auth.client_id == client_id  # type: ignore[attr-defined]

    api.invalidate("oauth-token", digest(token))
    with pytest.raises(InvalidToken, match="not active"):
        identity(api, token)

    delete_client(issuer, other_client)
    assert identity(api, other_token).auth.client_id == other_client  # type: ignore[attr-defined]
    api.invalidate("oauth-client", other_client)
    with pytest.raises(InvalidToken, match="not active"):
        identity(api, other_token)
