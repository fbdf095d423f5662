"""A revocation in one hub reaches every other hub's cache through the invalidation channel.

The authorization server (``hub``, served live) and a resource server
(``serving``, another hub on the same store) stand for two processes:
they share nothing but the database and its channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

import authhub
from authhub import AuthHub, Request
from authhub.testservers import RedisServer
from authhub_oauth import InvalidToken, OAuthScheme
from authhub_oauth.clients import create_client, delete_client, issue_token, revoke_tokens

from .conftest import PASSWORD

BOUND = 2.0  # seconds: generous, so CI never flakes; the benchmarks report the real figures


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
])
def shared_store(request: pytest.FixtureRequest) -> dict[str, Any]:
    """One database for both hubs: the test's SQLite file (channel: ``data_version``, or Redis), or PostgreSQL."""
    if request.param == "postgres":
        return {"database_url": request.getfixturevalue("authhub_postgres_url")}
    if request.param == "redis":
        return {"changes_redis_url": request.getfixturevalue("authhub_redis_url")}
    return {}


@pytest.fixture
def hub(authhub_make_hub: Callable[..., AuthHub], shared_store: dict[str, Any]) -> AuthHub:
    """The authorization server."""
    return authhub_make_hub(schemes=["oauth", "session"], **shared_store)


@pytest.fixture
def serving(authhub_make_hub: Callable[..., AuthHub], shared_store: dict[str, Any], hub: AuthHub) -> AuthHub:
    """A resource server on the same store, with its cache warm once a token has been used twice."""
    other = authhub_make_hub(schemes=["oauth"], **shared_store)
    for each in (hub, other):
        assert each.changes.wait_until_current(BOUND)
    return other


def authenticate(hub: AuthHub, token: str) -> authhub.Identity:
    return Request("GET", "/", [("Authorization", f"Bearer {token}")], hub=hub).identity


def cached(hub: AuthHub, token: str) -> None:
    for _ in range(2):
        assert authenticate(hub, token).is_authenticated
    assert hub.find_scheme(OAuthScheme).resource.cache


def refused_within(hub: AuthHub, token: str, bound: float = BOUND) -> str:
    """Ask until ``hub`` refuses ``token``; the refusal's description (fails after ``bound`` seconds)."""
    deadline = time.monotonic() + bound
    while True:
        try:
            authenticate(hub, token)
        except InvalidToken as error:
            return error.detail
        assert time.monotonic() < deadline, f"still accepted {bound} s after the revocation"
        time.sleep(0.005)


def test_a_token_revoked_at_oauth_revoke_is_refused_by_the_other_hub_within_the_bound(
    hub: AuthHub, serving: AuthHub, base: str, service: tuple[str, str]
) -> None:
    client = OAuth2Session(*service, scope="read")
    revoked = client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")["access_token"]
    kept = client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")["access_token"]
    for token in (revoked, kept):
        cached(serving, token)
    answer = requests.post(f"{base}/oauth/revoke", data={"token": revoked}, auth=service, timeout=10)
    assert answer.status_code == 200
    assert refused_within(serving, revoked) == "The access token was revoked."
    assert authenticate(serving, kept).user.username == f"client:{service[0]}"  # only that one went


def test_a_deleted_client_and_a_deactivated_user_reach_the_other_hub(hub: AuthHub, serving: AuthHub) -> None:
    alice = hub.users.create("alice", PASSWORD)
    client, _secret = create_client(hub, name="Reports", grant_types=["client_credentials"], scopes=["read"])
    clients_token = issue_token(hub, client.client_id, None, ["read"])
    alices = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    for token in (clients_token, alices):
        cached(serving, token)
    delete_client(hub, client.client_id)
    assert refused_within(serving, clients_token) == "The access token is unknown."
    hub.users.deactivate("alice")  # the oauth plugin revokes her tokens; the core announces the user
    assert refused_within(serving, alices) == "The access token was revoked."


def test_with_the_cache_off_a_revocation_is_seen_on_the_very_next_request(
    authhub_make_hub: Callable[..., AuthHub], hub: AuthHub, shared_store: dict[str, Any]
) -> None:
    serving = authhub_make_hub(schemes=["oauth"], oauth={"cache_ttl": 0}, **shared_store)
    alice = hub.users.create("alice", PASSWORD)
    token = hub.auth_headers("oauth", alice)["Authorization"].split()[1]
    assert authenticate(serving, token).is_authenticated
    revoke_tokens(hub, token=token)
    with pytest.raises(InvalidToken, match="revoked"):
        authenticate(serving, token)


@pytest.mark.redis
@pytest.mark.slow
def test_with_the_channel_down_a_revoked_token_is_never_accepted_from_the_cache(
    authhub_make_hub: Callable[..., AuthHub]
) -> None:
    server = RedisServer()  # a private Redis: stopping it leaves the shared one alone
    server.start()
    try:
        issuing = authhub_make_hub(schemes=["oauth"], changes_redis_url=server.url)
        serving = authhub_make_hub(schemes=["oauth"], changes_redis_url=server.url)
        alice = issuing.users.create("alice", PASSWORD)
        for each in (issuing, serving):
            assert each.changes.wait_until_current(BOUND)
        revoked, kept = (issuing.auth_headers("oauth", alice)["Authorization"].split()[1] for _ in range(2))
        for token in (revoked, kept):
            cached(serving, token)

        server.stop()
        deadline = time.monotonic() + 10
        while serving.changes.current:
            assert time.monotonic() < deadline, "a hub that lost the channel must stop trusting its cache"
            time.sleep(0.02)
        with pytest.raises(authhub.StoreUnavailable):  # revoked in the table, but not announced: told so
            revoke_tokens(issuing, token=revoked)
        for _ in range(3):
            with pytest.raises(InvalidToken, match="revoked"):
                authenticate(serving, revoked)
        assert authenticate(serving, kept).user == alice

        server.start()
        assert serving.changes.wait_until_current(10), "the hub recovers by itself"
        with pytest.raises(InvalidToken, match="revoked"):
            authenticate(serving, revoked)
        cached(serving, kept)
    finally:
        server.stop()
