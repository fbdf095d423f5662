"""Lockout and backoff, on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import redis

import authhub
from authhub import AuthHub, Request
from authhub.lockout import AttemptRecord, key_digest


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def make_hub(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    extra: dict[str, Any] = {}
    if request.param == "postgresql":
        url = request.getfixturevalue("authhub_postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'lockout.db'}"
    if request.param == "redis":
        extra["lockout_redis_url"] = request.getfixturevalue("authhub_redis_url")
    hubs: list[AuthHub] = []

    def make(**settings: Any) -> AuthHub:
        hub = AuthHub(
            directory=tmp_path,
            environ={},
            load_entry_points=False,
            database_url=url,
            **{"lockout_backoff_after": 3, "lockout_threshold": 5, **extra, **settings},
        )
        hub.upgrade()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        if request.param == "redis":
            client = redis.Redis.from_url(extra["lockout_redis_url"])
            for key in client.scan_iter("authhub:attempt:*"):
                client.delete(key)
        hub.close()


def from_address(address: str) -> Request:
    return Request("GET", "/", client=address)


def subject() -> str:
    return f"user:{uuid.uuid4().hex[:8]}"


def test_backoff_then_lockout(make_hub):
    hub = make_hub()
    attacker = from_address("203.0.113.7")
    target = subject()
    for _ in range(2):
        hub.lockout.check(attacker, target)
        hub.lockout.failed(attacker, target)
    hub.lockout.check(attacker, target)  # two failures: not slowed yet
    hub.lockout.failed(attacker, target)  # third: locked for 1 s
    with pytest.raises(authhub.TooManyRequests) as info:
        hub.lockout.check(attacker, target)
    assert info.value.status_code == 429
    assert info.value.headers["Retry-After"] == "1"
    hub.lockout.failed(attacker, target)
    hub.lockout.failed(attacker, target)  # fifth: the threshold, locked for lockout_duration
    with pytest.raises(authhub.TooManyRequests) as info:
        hub.lockout.check(attacker, target)
    assert 890 <= info.value.retry_after <= 900


def test_the_lock_is_shared_by_every_server(make_hub):
    first = make_hub()
    second = make_hub()  # another server on the same store
    attacker = from_address("203.0.113.7")
    target = subject()
    for _ in range(5):
        first.lockout.failed(attacker, target)
    with pytest.raises(authhub.TooManyRequests):
        second.lockout.check(attacker, target)
    # The pair is locked, not the user: the owner elsewhere still gets in.
    second.lockout.check(from_address("198.51.100.1"), target)


def test_many_addresses_against_one_subject_lock_it(make_hub):
    hub = make_hub(lockout_global_threshold=6)
    target = subject()
    for number in range(6):
        hub.lockout.failed(from_address(f"203.0.113.{number}"), target)
    with pytest.raises(authhub.TooManyRequests):
        hub.lockout.check(from_address("198.51.100.1"), target)


def test_one_address_against_many_subjects_is_locked(make_hub):
    hub = make_hub(lockout_global_threshold=6)
    sprayer = from_address("203.0.113.99")
    for _ in range(6):
        hub.lockout.failed(sprayer, subject())
    with pytest.raises(authhub.TooManyRequests):
        hub.lockout.check(sprayer, subject())


def test_a_success_does_not_reset_the_attackers_counter(make_hub):
    hub = make_hub(lockout_threshold=4, lockout_backoff_after=100)
    attacker, owner = from_address("203.0.113.7"), from_address("198.51.100.1")
    target = subject()
    for _ in range(3):
        hub.lockout.failed(attacker, target)
    hub.lockout.succeeded(owner, target)  # the real user logs in from elsewhere
    hub.lockout.failed(attacker, target)
    with pytest.raises(authhub.TooManyRequests):
        hub.lockout.check(attacker, target)


def test_a_success_clears_its_own_pair(make_hub):
    hub = make_hub(lockout_threshold=4, lockout_backoff_after=100)
    owner = from_address("198.51.100.1")
    target = subject()
    for _ in range(3):
        hub.lockout.failed(owner, target)  # typos
    hub.lockout.succeeded(owner, target)
    for _ in range(3):
        hub.lockout.failed(owner, target)  # three more: six in all, but only three since the success
    hub.lockout.check(owner, target)
    hub.lockout.failed(owner, target)
    with pytest.raises(authhub.TooManyRequests):
        hub.lockout.check(owner, target)


def test_failures_expire_with_the_window(make_hub):
    hub = make_hub(lockout_window=1, lockout_backoff_after=100, lockout_threshold=3)
    attacker = from_address("203.0.113.7")
    target = subject()
    hub.lockout.failed(attacker, target)
    hub.lockout.failed(attacker, target)
    time.sleep(1.3)
    hub.lockout.failed(attacker, target)  # a new window: one failure, not three
    hub.lockout.check(attacker, target)


def test_disabled(make_hub):
    hub = make_hub(lockout_enabled=False)
    attacker = from_address("203.0.113.7")
    for _ in range(10):
        hub.lockout.failed(attacker, "user:x")
    hub.lockout.check(attacker, "user:x")


def test_keys_are_stored_as_digests(tmp_path):
    hub = AuthHub(
        directory=tmp_path, environ={}, load_entry_points=False, database_url=f"sqlite:///{tmp_path / 'd.db'}"
    )
    hub.upgrade()
    hub.lockout.failed(from_address("203.0.113.7"), "user:alice")
    with hub.store.session() as session:
        keys = set(session.scalars(__import__("sqlalchemy").select(AttemptRecord.key)))
    assert key_digest("subject:user:alice") in keys
    assert key_digest("pair:user:alice|203.0.113.7") in keys
    assert not any("alice" in key for key in keys)


def test_locked_outcome_reaches_observers(tmp_path):
    outcomes: list[authhub.Outcome] = []

    class Guarded:
        @authhub.hookimpl
        def authenticate(self, request: Request, hub: AuthHub) -> Any:
            hub.lockout.check(request, "user:x")
            hub.lockout.failed(request, "user:x")
            raise authhub.AuthenticationFailed("Invalid username/password.")

    class Audit:
        @authhub.hookimpl
        def authentication_outcome(self, outcome: authhub.Outcome) -> None:
            outcomes.append(outcome)

    hub = AuthHub(
        directory=tmp_path,
        environ={},
        load_entry_points=False,
        schemes=["guarded"],
        plugins={"guarded": Guarded(), "audit": Audit()},
        database_url=f"sqlite:///{tmp_path / 'o.db'}",
        lockout_backoff_after=2,
    )
    hub.upgrade()
    for _ in range(3):
        with pytest.raises(authhub.AuthhubError):
            hub.authenticate(from_address("203.0.113.7"))
    assert [o.kind for o in outcomes] == ["refused", "refused", "locked"]
    assert outcomes[-1].error.headers["Retry-After"] == "1"


def test_redis_down_fails_closed(tmp_path):
    hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, lockout_redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(authhub.StoreUnavailable):
        hub.lockout.check(from_address("203.0.113.7"), "user:x")
