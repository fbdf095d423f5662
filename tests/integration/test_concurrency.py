"""Concurrency on the real PostgreSQL server: revocation, creation, logout and refresh rotation
raced by many threads. What has been revoked or ended stays so from the moment the call returns.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from authhub import AuthenticationFailed, AuthHub, Request
from authhub_oauth.models import OAuthClient, OAuthToken, digest, utcnow
from authhub_session import SessionScheme
from authhub_session import api as session_api
from authhub_token import TokenError, create_token, list_tokens, revoke_token
from authhub_token.models import Token

from .conftest import World, wsgi_client

pytestmark = pytest.mark.postgres

THREADS = 16


def token_request(hub: AuthHub, key: str) -> Request:
    return Request("GET", "/", [("Authorization", f"Token {key}")], client="127.0.0.1", hub=hub)


def race_revocations(hub: AuthHub, *, tokens: int = 40, seconds: float = 2.5) -> tuple[int, int]:
    """Threads authenticate with many tokens while others revoke them.

    Every authentication that *started* after ``revoke_token`` returned for
    its token must be refused. Returns (authentications, revocations).
    """
    hub.users.create("racer", "pw")
    keys = {}
    for _ in range(tokens):
        new = create_token(hub, "racer", name="race")
        keys[new.token.id] = new.key
    revoked_at: dict[int, float] = {}
    violations: list[tuple[int, float, float]] = []
    counts = {"auth": 0}
    stop = threading.Event()
    lock = threading.Lock()
    ids = list(keys)

    def authenticate(seed: int) -> None:
        chooser = random.Random(seed)
        done = 0
        while not stop.is_set():
            token_id = chooser.choice(ids)
            started = time.monotonic()
            try:
                identity = hub.authenticate(token_request(hub, keys[token_id]))
            except AuthenticationFailed:
                identity = None
            done += 1
            if identity is not None:
                assert identity.user.username == "racer" and identity.auth.id == token_id
                revoked = revoked_at.get(token_id)
                if revoked is not None and started > revoked:
                    with lock:
                        violations.append((token_id, revoked, started))
        with lock:
            counts["auth"] += done

    def revoke(seed: int) -> None:
        chooser = random.Random(seed)
        mine = ids[seed::4]
        chooser.shuffle(mine)
        for token_id in mine:
            if stop.is_set():
                return
            time.sleep(chooser.uniform(0, seconds / len(mine)))
            assert revoke_token(hub, token_id) is True
            revoked_at[token_id] = time.monotonic()

    with ThreadPoolExecutor(THREADS + 4) as pool:
        workers = [pool.submit(authenticate, seed) for seed in range(THREADS)]
        revokers = [pool.submit(revoke, seed) for seed in range(4)]
        for future in revokers:
            future.result(timeout=60)
        time.sleep(0.2)  # keep authenticating a little after the last revocation
        stop.set()
        for future in workers:
            future.result(timeout=60)

    assert violations == []
    assert len(revoked_at) == tokens
    for key in keys.values():
        with pytest.raises(AuthenticationFailed):
            hub.authenticate(token_request(hub, key))
    return counts["auth"], len(revoked_at)


def test_revoked_tokens_stay_revoked_under_load_cache_off(make_postgres_world: Callable[..., World]) -> None:
    hub = make_postgres_world(token={"cache_ttl": 0}).hub
    authentications, revocations = race_revocations(hub)
    assert authentications > 200 and revocations == 40


def test_revoked_tokens_stay_revoked_under_load_cache_on(make_postgres_world: Callable[..., World]) -> None:
    """With the in-process cache on, a revocation in this process empties it at once (every hub of the process)."""
    hub = make_postgres_world(token={"cache_ttl": 300}).hub
    authentications, revocations = race_revocations(hub)
    assert authentications > 200 and revocations == 40


def test_the_cache_keeps_a_token_revoked_elsewhere_for_at_most_its_ttl(
        make_postgres_world: Callable[..., World]) -> None:
    """Documented limit: a revocation made by *another process* (here: straight in the database)
    is seen by a caching process only when its entry expires, ``cache_ttl`` seconds at most."""
    world = make_postgres_world(token={"cache_ttl": 1.0})
    hub, alice = world.hub, world.people["alice"]
    assert hub.changes.wait_until_current()  # the cache answers only while the channel is current
    assert hub.authenticate(token_request(hub, alice.token)).user.username == "alice"
    with hub.store.connect() as connection:
        connection.execute(sa.update(Token).where(Token.digest == Token(user_id=0, key=alice.token).digest)
                           .values(revoked=True))
    assert hub.authenticate(token_request(hub, alice.token)).user.username == "alice"  # the cached answer
    time.sleep(1.1)
    with pytest.raises(AuthenticationFailed):
        hub.authenticate(token_request(hub, alice.token))


def test_token_creation_under_contention_never_repeats_a_key(make_postgres_world: Callable[..., World]) -> None:
    hub = make_postgres_world().hub
    names = [f"maker{index}" for index in range(4)]
    for name in names:
        hub.users.create(name, "pw")

    def make(index: int) -> str:
        return create_token(hub, names[index % len(names)], name=f"t{index}").key

    with ThreadPoolExecutor(THREADS) as pool:
        keys = list(pool.map(make, range(200)))
    assert len(set(keys)) == 200
    with hub.store.connect() as connection:
        digests = connection.execute(sa.select(Token.digest)).scalars().all()
    assert len(digests) == len(set(digests)) == 200 + 4  # and the seeded people's
    for key in random.sample(keys, 20):
        assert hub.authenticate(token_request(hub, key)).user.username in names


def test_the_per_user_limit_holds_against_parallel_creations(make_postgres_world: Callable[..., World]) -> None:
    hub = make_postgres_world(token={"max_per_user": 5}).hub
    hub.users.create("greedy", "pw")
    barrier = threading.Barrier(20)

    def make(_: int) -> bool:
        barrier.wait(timeout=10)
        try:
            create_token(hub, "greedy", name="parallel")
        except TokenError:
            return False
        return True

    with ThreadPoolExecutor(20) as pool:
        made = list(pool.map(make, range(20)))
    assert made.count(True) == 5
    assert len(list_tokens(hub, "greedy")) == 5


@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_sessions_logged_out_concurrently_stay_logged_out(
        make_postgres_world: Callable[..., World], authhub_redis_url: str, store: str) -> None:
    """Requests keep using sessions (each one touching it) while other threads log them out."""
    settings: dict[str, Any] = {"touch_interval": 0}
    if store == "redis":
        settings.update(redis_url=authhub_redis_url, redis_prefix=f"authhub-test-{uuid.uuid4().hex}:")
    hub = make_postgres_world(session=settings).hub
    user = hub.users.create("sessioner", "pw")
    sessions = hub.find_scheme(SessionScheme)
    ids = [sessions.start(user)[0] for _ in range(30)]
    ended_at: dict[str, float] = {}
    violations = []
    stop = threading.Event()

    def use(seed: int) -> None:
        chooser = random.Random(seed)
        while not stop.is_set():
            session_id = chooser.choice(ids)
            started = time.monotonic()
            request = Request("GET", "/", [("Cookie", f"authhub_session={session_id}")], client="127.0.0.1", hub=hub)
            identity = hub.authenticate(request)
            if identity.is_authenticated:
                assert identity.user.username == "sessioner"
                ended = ended_at.get(session_id)
                if ended is not None and started > ended:
                    violations.append(session_id)

    def log_out(seed: int) -> None:
        for session_id in ids[seed::4]:
            time.sleep(random.uniform(0, 0.05))
            request = Request("POST", "/logout", [("Cookie", f"authhub_session={session_id}")], hub=hub)
            lines = session_api.logout(request)
            assert lines[0][1].startswith("authhub_session=;")
            ended_at[session_id] = time.monotonic()

    with ThreadPoolExecutor(THREADS) as pool:
        users = [pool.submit(use, seed) for seed in range(THREADS - 4)]
        enders = [pool.submit(log_out, seed) for seed in range(4)]
        for future in enders:
            future.result(timeout=60)
        time.sleep(0.3)
        stop.set()
        for future in users:
            future.result(timeout=60)

    assert violations == []
    for session_id in ids:
        assert sessions.find(session_id) is None  # not brought back by a late touch
    # And logout_all, raced against new logins' use, ends everything that existed when it ran.
    more = [sessions.start(user)[0] for _ in range(10)]
    assert session_api.logout_all(hub, user) == 10
    assert all(sessions.find(session_id) is None for session_id in more)


def test_refresh_rotation_under_parallel_use_leaves_at_most_one_live_token(
        make_postgres_world: Callable[..., World]) -> None:
    """Rounds of parallel refreshes of the current refresh token: after each, a family holds at most
    one live token, and a lost race (a reuse) ends the family."""
    hub = make_postgres_world().hub
    alice = hub.users.get_by_username("alice")
    secret = secrets.token_urlsafe(32)
    with hub.store.session() as session:
        session.add(OAuthClient(client_id="rotator", client_secret_digest=digest(secret), name="rotator",
                                grant_types="authorization_code refresh_token",
                                redirect_uris="http://127.0.0.1:9/cb", scope="read"))

    def new_family() -> tuple[str, str]:
        refresh, family = secrets.token_urlsafe(32), uuid.uuid4().hex
        now = utcnow()
        with hub.store.session() as session:
            session.add(OAuthToken(access_token_digest=digest(secrets.token_urlsafe(32)),
                                   refresh_token_digest=digest(refresh), client_id="rotator", user_id=alice.id,
                                   scope="read", family_id=family, issued_at=now,
                                   expires_at=now + dt.timedelta(hours=1),
                                   refresh_expires_at=now + dt.timedelta(days=1)))
        return refresh, family

    def live(family: str) -> int:
        with hub.store.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(OAuthToken).where(
                OAuthToken.family_id == family, OAuthToken.revoked_at.is_(None),
                OAuthToken.refresh_used_at.is_(None))).scalar_one()

    def refresh(token: str, barrier: threading.Barrier) -> httpx.Response:
        with wsgi_client(hub) as client:
            barrier.wait(timeout=10)
            return client.post("/oauth/token", auth=("rotator", secret),
                               data={"grant_type": "refresh_token", "refresh_token": token})

    outcomes = []
    for parallel in (1, 2, 8, 1, 16):
        token, family = new_family()
        # A few sequential rotations first: the family grows, one live token at a time.
        for _ in range(3):
            answer = refresh(token, threading.Barrier(1))
            assert answer.status_code == 200, answer.text
            token = answer.json()["refresh_token"]
            assert live(family) == 1
        barrier = threading.Barrier(parallel)
        with ThreadPoolExecutor(parallel) as pool:
            answers = list(pool.map(lambda _: refresh(token, barrier), range(parallel)))
        winners = [answer for answer in answers if answer.status_code == 200]
        assert len(winners) <= 1
        assert all(answer.json()["error"] == "invalid_grant" for answer in answers if answer.status_code != 200)
        assert live(family) <= 1
        if parallel > 1:
            assert live(family) == 0  # the losers reused a rotated token: the family is over
        outcomes.append((parallel, len(winners), live(family)))
    assert outcomes[0] == (1, 1, 1)


def test_parallel_failures_are_all_counted(make_postgres_world: Callable[..., World]) -> None:
    """Nothing is lost: 32 failures against one pair, from 16 threads at once, count 32 (atomic upserts)."""
    from authhub.lockout import AttemptRecord, attempt_keys, key_digest

    hub = make_postgres_world(lockout_enabled=True, lockout_threshold=1000, lockout_backoff_after=1000,
                              lockout_global_threshold=1000).hub
    request = Request("GET", "/", client="192.0.2.77", hub=hub)
    barrier = threading.Barrier(THREADS)

    def fail(_: int) -> None:
        barrier.wait(timeout=10)
        hub.lockout.failed(request, "user:contended")
        hub.lockout.failed(request, "user:contended")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(fail, range(THREADS)))
    pair, subject, address = (key_digest(key) for key in attempt_keys(request, "user:contended"))
    with hub.store.connect() as connection:
        counts = dict(connection.execute(sa.select(AttemptRecord.key, AttemptRecord.failures)).all())
    assert counts[pair] == counts[subject] == counts[address] == 2 * THREADS
