"""Basic behind the hub's lockout: repeated wrong passwords are slowed down, then refused."""

from __future__ import annotations

import httpx
import pytest

import authhub

from .conftest import PASSWORD, basic, refusal, request

#: Lock a (user, address) pair at its 3rd failure (for 15 minutes), a user or an address at 6.
POLICY = {"lockout_backoff_after": 3, "lockout_threshold": 3, "lockout_global_threshold": 6}


def fail(hub: authhub.AuthHub, user_id: str, times: int, client: str = "127.0.0.1") -> None:
    for _ in range(times):
        assert refusal(hub, basic(user_id, "wrong"), client=client).status_code == 401


@pytest.fixture
def locking_hub(make_hub) -> authhub.AuthHub:
    hub = make_hub(**POLICY)
    hub.users.create("alice", PASSWORD)
    return hub


def test_repeated_failures_lock_the_pair_even_for_the_right_password(locking_hub):
    fail(locking_hub, "alice", 3)
    error = refusal(locking_hub, basic("alice", PASSWORD))
    assert isinstance(error, authhub.TooManyRequests)
    assert error.status_code == 429
    assert int(error.headers["Retry-After"]) >= 1
    # Another address is not locked out by this one's failures.
    assert locking_hub.authenticate(request(locking_hub, basic("alice", PASSWORD), client="10.0.0.2")).user


def test_unknown_users_are_counted_like_known_ones(locking_hub):
    fail(locking_hub, "mallory", 3)
    assert refusal(locking_hub, basic("mallory", "wrong")).status_code == 429


def test_a_success_clears_its_own_pair(locking_hub):
    fail(locking_hub, "alice", 2)
    assert locking_hub.authenticate(request(locking_hub, basic("alice", PASSWORD))).user.username == "alice"
    fail(locking_hub, "alice", 2)
    assert locking_hub.authenticate(request(locking_hub, basic("alice", PASSWORD))).user.username == "alice"


def test_many_addresses_against_one_user_lock_the_user(locking_hub):
    for index in range(6):
        fail(locking_hub, "alice", 1, client=f"10.0.1.{index}")
    assert refusal(locking_hub, basic("alice", PASSWORD), client="10.9.9.9").status_code == 429


def test_malformed_headers_are_not_attempts(locking_hub):
    for _ in range(10):
        assert refusal(locking_hub, "Basic !!!").status_code == 401
        assert refusal(locking_hub, basic("", "x")).status_code == 401
    assert locking_hub.authenticate(request(locking_hub, basic("alice", PASSWORD))).user.username == "alice"


def test_the_lockout_can_be_turned_off(make_hub):
    hub = make_hub(lockout_enabled=False, **POLICY)
    hub.users.create("alice", PASSWORD)
    fail(hub, "alice", 12)
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user.username == "alice"


def test_cached_credentials_are_not_guesses_and_skip_the_lockout(make_hub):
    hub = make_hub(basic={"cache_ttl": 60}, **POLICY)
    hub.users.create("alice", PASSWORD)
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user.username == "alice"
    for index in range(6):
        fail(hub, "alice", 1, client=f"10.0.1.{index}")
    # The user is locked for anything that needs a password check...
    assert refusal(hub, basic("alice", PASSWORD + "?")).status_code == 429
    # ...but credentials verified before the attack go on working from the cache.
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user.username == "alice"


def test_429_over_http(make_hub, authhub_live_server):
    hub = make_hub(**POLICY)
    hub.users.create("alice", PASSWORD)
    base = authhub_live_server(hub)
    with httpx.Client(base_url=base) as client:
        statuses = [client.get("/protected", auth=("alice", "wrong")).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        locked = client.get("/protected", auth=("alice", PASSWORD))
    assert locked.status_code == 429
    assert locked.json() == {"detail": "Too many failed attempts. Try again later."}
    assert int(locked.headers["retry-after"]) >= 1
