"""Lockout over HTTP, for every scheme that checks a secret: 429 with ``Retry-After``, a success
elsewhere resets nothing, and the observer hook sees the failures and the lock.

Thresholds are small and backoff is off (``lockout_backoff_after`` above
the threshold), so each step is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from authhub.testing import hub_for_tests
from authhub_oauth.models import OAuthClient, digest
from authhub_token.keys import ALPHABET, RANDOM_LENGTH

from .conftest import SCHEMES, Recorder, World, basic, seed, wsgi_client
from .strategies import well_formed_key

THRESHOLD = 3
GLOBAL = 6
LOCKOUT = {"lockout_enabled": True, "lockout_threshold": THRESHOLD, "lockout_global_threshold": GLOBAL,
           "lockout_backoff_after": 100, "lockout_duration": 60, "lockout_window": 60}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def world(tmp_path: Path, recorder: Recorder) -> Iterator[World]:
    hub = hub_for_tests(tmp_path, plugins={"recorder": recorder}, schemes=SCHEMES, **LOCKOUT)
    hub.upgrade()
    made = seed(hub)
    yield made
    hub.close()


def assert_locked(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= LOCKOUT["lockout_duration"]


# -- basic --------------------------------------------------------------------------------------


def test_basic_locks_the_pair_then_answers_429_even_to_the_right_password(world: World, recorder: Recorder) -> None:
    attacker = wsgi_client(world.hub, "198.51.100.1")
    alice = world.people["alice"]
    for _ in range(THRESHOLD):
        assert attacker.get("/protected", headers={"Authorization": basic("alice", "guess")}).status_code == 401
    locked = attacker.get("/protected", headers=alice.headers("basic"))
    assert_locked(locked)
    assert locked.json() == {"detail": "Too many failed attempts. Try again later."}
    # The real user, from elsewhere, is not locked out by the attacker's pair.
    assert wsgi_client(world.hub, "198.51.100.2").get("/protected", headers=alice.headers("basic")).status_code == 200
    # Audit: every failure and the lock went through the observer hook.
    assert recorder.kinds().count("refused") == THRESHOLD
    assert "locked" in recorder.kinds()


def test_spellings_of_one_user_name_count_as_one_subject(world: World) -> None:
    # Issue 14: 'Alice' and a fullwidth 'ALICE' sign in as alice, so they must not each get their own count.
    attacker = wsgi_client(world.hub, "198.51.100.9")
    spellings = ["Alice", "ALICE", "\uff21lice", "aLiCe", "alicE", "\uff41\uff4c\uff49\uff43\uff45"]
    for number in range(THRESHOLD):
        name = spellings[number % len(spellings)]
        assert attacker.get("/protected", headers={"Authorization": basic(name, "guess")}).status_code == 401
    assert_locked(attacker.get("/protected", headers=world.people["alice"].headers("basic")))


def test_a_success_elsewhere_does_not_reset_the_attackers_count(world: World) -> None:
    attacker = wsgi_client(world.hub, "198.51.100.3")
    victim = wsgi_client(world.hub, "198.51.100.4")
    alice = world.people["alice"]
    for _ in range(THRESHOLD - 1):
        assert attacker.get("/whoami", headers={"Authorization": basic("alice", "guess")}).status_code == 401
    assert victim.get("/whoami", headers=alice.headers("basic")).json()["user"] == "alice"
    assert attacker.get("/whoami", headers={"Authorization": basic("alice", "guess")}).status_code == 401
    assert_locked(attacker.get("/whoami", headers={"Authorization": basic("alice", "guess")}))


def test_many_addresses_against_one_user_lock_the_user(world: World) -> None:
    for index in range(GLOBAL):
        client = wsgi_client(world.hub, f"203.0.113.{index + 1}")
        assert client.get("/whoami", headers={"Authorization": basic("bob", f"guess{index}")}).status_code == 401
    assert_locked(wsgi_client(world.hub, "203.0.113.200").get(
        "/whoami", headers={"Authorization": basic("bob", "guess")}))


# -- session: the login form ------------------------------------------------------------------------


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert match
    return client.post("/login", data={"csrf_token": match.group(1), "username": username, "password": password})


def test_the_login_form_locks_out_with_429_and_retry_after(world: World) -> None:
    attacker = wsgi_client(world.hub, "198.51.100.5")
    alice = world.people["alice"]
    for _ in range(THRESHOLD):
        failed = login(attacker, "alice", "guess")
        assert failed.status_code == 200 and "Invalid username/password." in failed.text
    assert_locked(login(attacker, "alice", alice.password))
    # A success from another address does not unlock the attacker, and is not blocked by it.
    assert login(wsgi_client(world.hub, "198.51.100.6"), "alice", alice.password).status_code == 303
    assert_locked(login(attacker, "alice", alice.password))


def test_basic_and_the_login_form_count_guesses_together(world: World) -> None:
    client = wsgi_client(world.hub, "198.51.100.7")
    for _ in range(THRESHOLD - 1):
        assert client.get("/whoami", headers={"Authorization": basic("carol", "guess")}).status_code == 401
    assert login(client, "carol", "guess").status_code == 200
    assert_locked(login(client, "carol", world.people["carol"].password))


def test_login_form_failures_reach_the_observer(world: World, recorder: Recorder) -> None:
    """Audit logs see every failure and lockout, whichever way the password came (issue 8, item 6)."""
    client = wsgi_client(world.hub, "198.51.100.8")
    for _ in range(THRESHOLD + 1):
        login(client, "alice", "guess")
    assert recorder.kinds().count("refused") >= THRESHOLD
    assert "locked" in recorder.kinds()


def test_client_secret_failures_reach_the_observer(world: World, recorder: Recorder) -> None:
    """The token endpoint checks a secret outside the chain: its failures and lock must be audited too."""
    add_service_client(world)
    client = wsgi_client(world.hub, "198.51.100.12")
    for index in range(THRESHOLD + 1):
        client.post("/oauth/token", auth=("service", f"guess{index}"), data={"grant_type": "client_credentials"})
    assert recorder.kinds().count("refused") >= THRESHOLD
    assert "locked" in recorder.kinds()


# -- token and bearer: a secret checked, so locked out as well -----------------------------------------


def test_guessing_token_keys_from_one_address_is_locked_out(world: World) -> None:
    client = wsgi_client(world.hub, "198.51.100.9")
    answers = [client.get("/whoami", headers={"Authorization": "Token " + well_formed_key(
        ALPHABET[index % len(ALPHABET)] * RANDOM_LENGTH)}) for index in range(GLOBAL + 2)]
    assert [answer.status_code for answer in answers[:THRESHOLD]] == [401] * THRESHOLD
    assert_locked(answers[-1])
    # A real key is never slowed by a guesser's lock, even from the guesser's address.
    assert client.get("/whoami", headers=world.people["alice"].headers("token")).json()["user"] == "alice"


def test_guessing_bearer_tokens_from_one_address_is_locked_out(world: World) -> None:
    client = wsgi_client(world.hub, "198.51.100.10")
    answers = [client.get("/whoami", headers={"Authorization": f"Bearer guess{index}"})
               for index in range(GLOBAL + 2)]
    assert [answer.status_code for answer in answers[:THRESHOLD]] == [401] * THRESHOLD
    assert_locked(answers[-1])
    assert client.get("/whoami", headers=world.people["alice"].headers("oauth")).json()["user"] == "alice"


def add_service_client(world: World) -> None:
    with world.hub.store.session() as session:
        session.add(OAuthClient(client_id="service", client_secret_digest=digest("right"), name="service",
                                grant_types="client_credentials", redirect_uris="", scope="read"))


def test_guessing_a_client_secret_at_the_token_endpoint_is_locked_out(world: World) -> None:
    add_service_client(world)
    client = wsgi_client(world.hub, "198.51.100.11")
    statuses = [client.post("/oauth/token", auth=("service", f"guess{index}"),
                            data={"grant_type": "client_credentials"}).status_code for index in range(GLOBAL + 2)]
    assert statuses[:THRESHOLD] == [401] * THRESHOLD
    assert statuses[-1] == 429, statuses
    # The right secret from another address still works: the lock is the attacker's pair.
    assert wsgi_client(world.hub, "198.51.100.13").post(
        "/oauth/token", auth=("service", "right"), data={"grant_type": "client_credentials"}).status_code == 200


def test_two_servers_sharing_redis_share_the_lock(tmp_path: Path, authhub_redis_url: str) -> None:
    """Guesses spread over two servers add up in Redis: each server has a database of its own here,
    so only the Redis counters can carry the first server's failures to the second."""
    import uuid

    hubs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        hubs.append(hub_for_tests(tmp_path / name, schemes=SCHEMES, lockout_redis_url=authhub_redis_url, **LOCKOUT))
        hubs[-1].upgrade()
    # Redis outlives the test: a name and an address of this run's own, so earlier runs' counters do not count.
    run = uuid.uuid4()
    username, address = f"user-{run.hex[:12]}", f"10.{run.bytes[0]}.{run.bytes[1]}.{run.bytes[2] % 254 + 1}"
    for hub in hubs:
        hub.users.create(username, "the right one")
    first, second = (wsgi_client(hub, address) for hub in hubs)
    for index in range(THRESHOLD):
        client = first if index % 2 == 0 else second
        assert client.get("/whoami", headers={"Authorization": basic(username, "guess")}).status_code == 401
    assert_locked(second.get("/whoami", headers={"Authorization": basic(username, "the right one")}))
    assert_locked(first.get("/whoami", headers={"Authorization": basic(username, "the right one")}))
    for hub in hubs:
        hub.close()
