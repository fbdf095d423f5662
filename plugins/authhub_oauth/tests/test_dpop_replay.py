"""Used DPoP proofs are shared by every hub on the store (PostgreSQL, SQLite) or on Redis, and forgotten when stale."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
import sqlalchemy as sa

import authhub
from authhub import AuthHub, Request
from authhub_oauth import OAuthScheme
from authhub_oauth.clients import create_client
from authhub_oauth.replay import DPoPProofUse, RedisReplayCache, StoreReplayCache

from .dpop_proofs import make_proof, new_key

ISSUER = "https://login.example"


def bound_token(hub: AuthHub, base: str, key: Any) -> str:
    import requests

    client, secret = create_client(hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    answer = requests.post(f"{base}/oauth/token", auth=(client.client_id, str(secret)), timeout=10,
                           data={"grant_type": "client_credentials"},
                           headers={"DPoP": make_proof(key, "POST", f"{ISSUER}/oauth/token")})
    assert answer.json()["token_type"] == "DPoP", answer.text
    token: str = answer.json()["access_token"]
    return token


def dpop_request(hub: AuthHub, token: str, proof: str) -> Request:
    return Request("GET", "/whoami", [("Authorization", f"DPoP {token}"), ("DPoP", proof)], hub=hub)


@pytest.mark.parametrize("where", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                                   pytest.param("redis", marks=pytest.mark.redis)])
def test_a_proof_used_in_one_hub_is_refused_by_another(
    where: str, request: pytest.FixtureRequest, authhub_make_hub: Callable[..., AuthHub],
    authhub_live_server: Callable[[AuthHub], str], tmp_path: Any,
) -> None:
    options: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'shared.db'}"}
    oauth: dict[str, Any] = {"issuer": ISSUER}
    if where == "postgresql":
        options["database_url"] = request.getfixturevalue("authhub_postgres_url")
    if where == "redis":
        oauth["dpop_replay_redis_url"] = request.getfixturevalue("authhub_redis_url")
    first = authhub_make_hub(schemes=["oauth"], oauth=oauth, **options)
    second = authhub_make_hub(schemes=["oauth"], oauth=oauth, **options)
    key = new_key()
    token = bound_token(first, authhub_live_server(first), key)
    proof = make_proof(key, "GET", f"{ISSUER}/whoami", token=token)

    assert dpop_request(first, token, proof).auth.jkt is not None
    assert dpop_request(second, token, make_proof(key, "GET", f"{ISSUER}/whoami", token=token)).auth.jkt is not None
    with pytest.raises(authhub.AuthenticationFailed, match="already used"):
        _ = dpop_request(second, token, proof).user
    if where == "redis":
        replay = second.find_scheme(OAuthScheme).resource.proofs
        assert replay is not None and isinstance(replay.replay, RedisReplayCache)
        server = redis.Redis.from_url(request.getfixturevalue("authhub_redis_url"))
        keys = server.keys("authhub:oauth:dpop:*")
        assert keys  # SET NX EX: each key expires with its proof
        assert all(0 < server.ttl(key) <= 61 for key in keys)
        server.close()


def test_stale_proofs_are_purged_and_fresh_ones_kept(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=["oauth"])
    replay = StoreReplayCache(hub.store, purge_every=3600)
    now = time.time()
    assert replay.first_use("a" * 64, now - 1)
    assert replay.first_use("b" * 64, now + 60)
    assert not replay.first_use("b" * 64, now + 60)

    assert replay.purge() == 1
    with hub.store.session() as session:
        assert session.scalars(sa.select(DPoPProofUse.digest)).all() == ["b" * 64]


def test_purging_happens_as_proofs_are_recorded(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=["oauth"])
    replay = StoreReplayCache(hub.store, purge_every=0)
    with hub.store.session() as session:
        session.add(DPoPProofUse(digest="c" * 64, expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)))
    assert replay.first_use("d" * 64, time.time() + 60)
    with hub.store.session() as session:
        assert session.scalars(sa.select(DPoPProofUse.digest)).all() == ["d" * 64]


def test_an_unreachable_replay_store_fails_closed(
    authhub_make_hub: Callable[..., AuthHub], authhub_live_server: Callable[[AuthHub], str]
) -> None:
    issuing = authhub_make_hub(schemes=["oauth"], oauth={"issuer": ISSUER})
    key = new_key()
    token = bound_token(issuing, authhub_live_server(issuing), key)
    # Nothing listens on port 9 of loopback: every proof would be unrecorded.
    api = authhub_make_hub(schemes=["oauth"], database_url=issuing.settings["database_url"],
                           oauth={"issuer": ISSUER, "dpop_replay_redis_url": "redis://127.0.0.1:9/0"})
    with pytest.raises(authhub.StoreUnavailable):
        _ = dpop_request(api, token, make_proof(key, "GET", f"{ISSUER}/whoami", token=token)).user
