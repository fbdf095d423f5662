"""The resource server's cache of verified bearer tokens: on by default, by digest, never a refresh token.

It answers only while the hub's invalidation channel is current; under
ASGI a hit is answered on the event loop and a miss from a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

import authhub
from authhub import AuthHub, Request
from authhub_oauth import InvalidToken, OAuthScheme
from authhub_oauth.clients import delete_client, issue_token, revoke_tokens
from authhub_oauth.models import digest

from .conftest import PASSWORD, REDIRECT_URI, Browser

BOUND = 2.0


def resource_of(hub: AuthHub) -> Any:
    return hub.find_scheme(OAuthScheme).resource


def listening(hub: AuthHub) -> None:
    assert hub.changes.wait_until_current(BOUND), "the invalidation channel did not catch up"


def authenticate(hub: AuthHub, token: str) -> authhub.Identity:
    return Request("GET", "/", [("Authorization", f"Bearer {token}")], hub=hub).identity


def refusal(hub: AuthHub, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        authenticate(hub, token)
    return caught.value.detail


class Reads:
    """Counts the opaque validator's reads of the token table, and the threads they ran in."""

    def __init__(self, hub: AuthHub, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: list[str] = []
        lookup = resource_of(hub).validator._lookup
        read = lookup.fetch_one

        def counted(**params: Any) -> Any:
            self.threads.append(threading.current_thread().name)
            return read(**params)

        monkeypatch.setattr(lookup, "fetch_one", counted)

    @property
    def count(self) -> int:
        return len(self.threads)


class Hops:
    """Counts ``asyncio.to_thread`` calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        to_thread = asyncio.to_thread

        async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await to_thread(function, *args, **kwargs)

        monkeypatch.setattr(asyncio, "to_thread", counted)


def on_the_loop(hub: AuthHub, token: str | None) -> tuple[authhub.Identity, str]:
    """Authenticate as the ASGI middleware does; the identity and the event loop's thread."""
    headers = [("Authorization", f"Bearer {token}")] if token is not None else []

    async def go() -> tuple[authhub.Identity, str]:
        return await hub.aauthenticate(Request("GET", "/", headers, hub=hub)), threading.current_thread().name

    return asyncio.run(go())


# -- opaque tokens issued here ------------------------------------------------------------------


def test_on_by_default_a_hit_skips_the_store(hub: AuthHub, alice: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = resource_of(hub).cache
    assert isinstance(cache, authhub.TTLCache) and (cache.ttl, cache.size) == (60.0, 10_000)
    listening(hub)
    token = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    reads = Reads(hub, monkeypatch)
    for _ in range(3):
        identity = authenticate(hub, token)
        assert identity.user == alice and identity.auth.user == alice
    assert reads.count == 1
    (key,) = cache._entries
    assert key == digest(token) != token  # kept by digest, never the token
    assert token not in repr(cache._entries)


@pytest.mark.parametrize("section", [{"cache_ttl": 0}, {"cache_size": 0}])
def test_a_setting_turns_the_cache_off(authhub_make_hub: Callable[..., AuthHub], section: dict,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    hub = authhub_make_hub(schemes=["oauth"], oauth=section)
    alice = hub.users.create("alice", PASSWORD)
    listening(hub)
    token = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    reads = Reads(hub, monkeypatch)
    for _ in range(3):
        assert authenticate(hub, token).user == alice
    assert resource_of(hub).cache is None and reads.count == 3


@pytest.mark.parametrize("section", [{"cache_ttl": -1}, {"cache_size": -1}])
def test_a_negative_cache_setting_is_a_configuration_error(authhub_make_hub: Callable[..., AuthHub],
                                                           section: dict) -> None:
    with pytest.raises(authhub.ConfigurationError, match="oauth.cache_"):
        authhub_make_hub(schemes=["oauth"], oauth=section)


def test_while_the_channel_is_not_current_every_request_reads_the_store(
    hub: AuthHub, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    hub.changes.close()  # never current again
    reads = Reads(hub, monkeypatch)
    for _ in range(3):
        assert authenticate(hub, token).user == alice
    assert reads.count == 3 and len(resource_of(hub).cache) == 0


def test_revocation_client_deletion_and_user_changes_drop_their_entries(hub: AuthHub, alice: Any,
                                                                     service: tuple[str, str]) -> None:
    listening(hub)
    bob = hub.users.create("bob", PASSWORD)
    alices = [hub.auth_headers("oauth", alice)["Authorization"].split()[1] for _ in range(2)]
    bobs = hub.auth_headers("oauth", bob)["Authorization"].split()[1]
    services = issue_token(hub, service[0], None, ["read"])
    for token in (*alices, bobs, services):
        assert authenticate(hub, token).is_authenticated
    cache = resource_of(hub).cache
    assert len(cache) == 4

    assert revoke_tokens(hub, token=alices[0]) == 1
    assert len(cache) == 3
    assert refusal(hub, alices[0]) == "The access token was revoked."  # at once in the revoking hub
    hub.invalidate("user", str(bob.id))
    assert len(cache) == 2
    delete_client(hub, service[0])
    assert len(cache) == 1
    assert refusal(hub, services) == "The access token is unknown."
    hub.invalidate("*", "*")
    assert len(cache) == 0
    assert authenticate(hub, alices[1]).user == alice


def test_a_deactivated_users_cached_token_is_refused(hub: AuthHub, alice: Any) -> None:
    listening(hub)
    token = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    for _ in range(2):
        assert authenticate(hub, token).user == alice
    hub.users.deactivate("alice")
    assert refusal(hub, token) == "The access token was revoked."


def test_a_revocation_between_the_read_and_the_put_is_not_lost(hub: AuthHub, alice: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    listening(hub)
    token = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    lookup = resource_of(hub).validator._lookup
    read = lookup.fetch_one

    def revoked_meanwhile(**params: Any) -> Any:
        row = read(**params)
        revoke_tokens(hub, token=token)
        return row

    monkeypatch.setattr(lookup, "fetch_one", revoked_meanwhile)
    assert authenticate(hub, token).is_authenticated  # read before the revocation
    monkeypatch.undo()
    assert len(resource_of(hub).cache) == 0
    assert refusal(hub, token) == "The access token was revoked."


def test_a_refresh_token_is_never_taken_for_an_access_token(
    hub: AuthHub, base: str, browser: Browser, webapp: tuple[str, str], alice: Any
) -> None:
    listening(hub)
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = generate_token(64)
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    location = browser.authorize(url).headers["Location"]
    token = client.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier)
    access, refresh = token["access_token"], token["refresh_token"]

    assert refusal(hub, refresh) == "The access token is unknown."  # before the access token is cached
    for _ in range(2):
        assert authenticate(hub, access).user == alice
    assert refusal(hub, refresh) == "The access token is unknown."  # and after
    assert list(resource_of(hub).cache._entries) == [digest(access)]


def test_with_an_applications_own_store_a_hit_reads_the_user_again(
    authhub_account_hub: Callable[..., AuthHub]
) -> None:
    hub = authhub_account_hub(schemes=["oauth"])
    alice = hub.users.add("alice", PASSWORD)
    listening(hub)
    token = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    for _ in range(2):
        assert authenticate(hub, token).user.id == alice.id
    assert len(resource_of(hub).cache) == 1
    hub.users.disable("alice")  # in the application's table: nobody is told
    assert refusal(hub, token) == "The token's user is inactive or deleted."


# -- ASGI -----------------------------------------------------------------------------------------


def test_aauthenticate_answers_an_opaque_hit_on_the_loop_and_a_miss_from_a_thread(
    hub: AuthHub, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    listening(hub)
    token = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    hops, reads = Hops(monkeypatch), Reads(hub, monkeypatch)
    identity, loop_thread = on_the_loop(hub, token)
    assert identity.user == alice and identity.scheme == "oauth"
    assert hops.count == 1 and reads.count == 1 and reads.threads[0] != loop_thread
    identity, _ = on_the_loop(hub, token)
    assert identity.user == alice
    assert hops.count == 1 and reads.count == 1  # the hit: no thread, no read
    assert on_the_loop(hub, None)[0].is_authenticated is False and hops.count == 1
    with pytest.raises(InvalidToken, match="unknown"):
        on_the_loop(hub, "x" * 40)


# -- JWT access tokens ------------------------------------------------------------------------------

ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"


@pytest.fixture
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": "key-1"}, private=True)


@pytest.fixture
def jwt_hub(authhub_make_hub: Callable[..., AuthHub], tmp_path: Path, signing_key: RSAKey) -> AuthHub:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(KeySet([signing_key]).as_dict(private=False)))
    hub = authhub_make_hub(schemes=["oauth"], oauth={
        "token_source": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwks": str(path),
    })
    hub.users.create("alice", PASSWORD)
    return hub


def signed(key: RSAKey, **claims: Any) -> str:
    now = int(time.time())
    values = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "mobile-app", "iat": now,
              "exp": now + 300, "jti": generate_token(8), "scope": "read", **claims}
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.kid}, values, key, algorithms=["RS256"])


def test_a_verified_jwt_is_answered_from_the_cache_on_the_loop(jwt_hub: AuthHub, signing_key: RSAKey,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    listening(jwt_hub)
    token = signed(signing_key)
    hops = Hops(monkeypatch)
    verifications = []
    validator = resource_of(jwt_hub).validator
    verify = validator.authenticate_token
    monkeypatch.setattr(validator, "authenticate_token", lambda text: verifications.append(1) or verify(text))
    for _ in range(3):
        identity, _ = on_the_loop(jwt_hub, token)
        assert identity.user.username == "alice" and identity.auth.source == "jwt"
    # the miss verifies the signature and reads the user in one thread hop; the hits need neither
    assert hops.count == 1 and len(verifications) == 1
    cache = resource_of(jwt_hub).cache
    assert list(cache._entries) == [digest(token)]


def test_a_cached_jwt_never_outlives_its_exp(jwt_hub: AuthHub, signing_key: RSAKey) -> None:
    listening(jwt_hub)
    token = signed(signing_key, exp=int(time.time()) + 1)
    assert authenticate(jwt_hub, token).is_authenticated
    assert len(resource_of(jwt_hub).cache) == 1
    time.sleep(2.1)  # exp has whole seconds
    assert refusal(jwt_hub, token) == "The access token expired."


def test_a_jwt_of_a_deactivated_user_is_refused_though_cached(jwt_hub: AuthHub, signing_key: RSAKey) -> None:
    listening(jwt_hub)
    token = signed(signing_key)
    for _ in range(2):
        assert authenticate(jwt_hub, token).user.username == "alice"
    jwt_hub.users.deactivate("alice")
    assert refusal(jwt_hub, token) == "The token's user is inactive or deleted."


def test_introspection_keeps_its_own_cache(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=["oauth"], oauth={
        "token_source": "introspection", "introspection_url": "https://as.example/introspect",
        "introspection_client_id": "api", "introspection_client_secret": "s3cret-for-tests",
    })
    resource = resource_of(hub)
    assert resource.cache is None and resource.validator.cache is not None
