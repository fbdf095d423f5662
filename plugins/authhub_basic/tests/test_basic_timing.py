"""An unknown user costs the same time as a wrong password: no user enumeration by timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx
import pytest

import authhub
from authhub import SQLUserStore
from authhub_basic import BasicScheme

from .conftest import PASSWORD, basic, request

#: Hashing dear enough (4 MiB) that argon2 is most of a request's cost, as in production; no
#: lockout, which would answer these hundreds of failures with 429 (its own tests are elsewhere).
HASHING = {"password_time_cost": 1, "password_memory_cost": 4096, "lockout_enabled": False}


def paired_timings(first: Callable[[], object], second: Callable[[], object], pairs: int) -> list[tuple[float, float]]:
    """Seconds each callable takes, timed in adjacent pairs (which one goes first alternates)."""
    timings = []
    for index in range(pairs):
        order = (first, second) if index % 2 == 0 else (second, first)
        spent = []
        for call in order:
            start = time.perf_counter()
            call()
            spent.append(time.perf_counter() - start)
        timings.append((spent[0], spent[1]) if index % 2 == 0 else (spent[1], spent[0]))
    return timings


def assert_same_cost(timings: list[tuple[float, float]], label: str) -> None:
    """The medians of the two cases, compared pair by pair, differ by less than 20%.

    Each ratio compares two requests made one right after the other, so load
    from other processes on the machine (which makes the timings bimodal and
    can tip a plain median either way) weighs on both sides of the ratio.
    """
    first = statistics.median(pair[0] for pair in timings)
    second = statistics.median(pair[1] for pair in timings)
    ratio = statistics.median(pair[0] / pair[1] for pair in timings)
    print(f"{label}: median unknown user {first * 1e3:.3f} ms, wrong password {second * 1e3:.3f} ms, "
          f"median ratio {ratio:.3f} over {len(timings)} pairs")
    assert abs(ratio - 1) < 0.2


def refused(hub: authhub.AuthHub, authorization: str) -> Callable[[], object]:
    """One attempt that must end in the store's own refusal.

    Checking the exact error keeps the measure honest: two requests refused
    early for the same other reason (malformed, locked out, a fault) take
    the same time whatever the store does, and would prove nothing.
    """

    def attempt() -> object:
        with pytest.raises(authhub.AuthenticationFailed) as caught:
            hub.authenticate(request(hub, authorization))
        assert type(caught.value) is authhub.AuthenticationFailed
        assert caught.value.detail == "Invalid username/password."
        return None

    return attempt


@pytest.mark.slow
def test_unknown_user_and_wrong_password_take_the_same_time(make_hub):
    hub = make_hub(**HASHING)
    hub.users.create("alice", PASSWORD)
    unknown = refused(hub, basic("mallory", PASSWORD))
    wrong = refused(hub, basic("alice", PASSWORD + "!"))
    paired_timings(unknown, wrong, 5)  # warm up: the dummy hash, the connection pool
    assert_same_cost(paired_timings(unknown, wrong, 150), "in the chain")


@pytest.mark.slow
def test_with_the_cache_on_too(make_hub):
    # Failures are never cached, so an unknown user still pays the dummy hash; the right
    # password, verified once and cached, must not make the wrong one any cheaper.
    hub = make_hub(**HASHING, basic={"cache_ttl": 60})
    hub.users.create("alice", PASSWORD)
    hub.authenticate(request(hub, basic("alice", PASSWORD)))
    unknown = refused(hub, basic("mallory", PASSWORD))
    wrong = refused(hub, basic("alice", PASSWORD + "!"))
    paired_timings(unknown, wrong, 5)
    assert_same_cost(paired_timings(unknown, wrong, 100), "with the cache on")
    assert len(hub.find_scheme(BasicScheme).cache) == 1


@pytest.mark.slow
def test_over_http_too(make_hub, authhub_live_server):
    hub = make_hub(**HASHING)
    hub.users.create("alice", PASSWORD)
    base = authhub_live_server(hub)
    with httpx.Client(base_url=base) as client:

        def unknown() -> object:
            return client.get("/protected", auth=("mallory", PASSWORD))

        def wrong() -> object:
            return client.get("/protected", auth=("alice", PASSWORD + "!"))

        assert unknown().status_code == wrong().status_code == 401
        assert unknown().json() == wrong().json() == {"detail": "Invalid username/password."}
        paired_timings(unknown, wrong, 5)
        timings = paired_timings(unknown, wrong, 100)
    assert_same_cost(timings, "over HTTP")


class LeakyStore:
    """A user store that answers unknown users at once: what the measure above must catch."""

    def __init__(self, hub: authhub.AuthHub) -> None:
        self.store = SQLUserStore(hub)

    def check_password(self, username: str, password: str) -> authhub.User:
        if self.store.get_by_username(username) is None:
            raise authhub.AuthenticationFailed("Invalid username/password.")
        return self.store.check_password(username, password)

    def get(self, user_id: object) -> authhub.User | None:
        return self.store.get(user_id)

    def get_by_username(self, username: str) -> authhub.User | None:
        return self.store.get_by_username(username)


class LeakyUsers:
    @authhub.hookimpl
    def user_store(self, hub: authhub.AuthHub) -> LeakyStore:
        return LeakyStore(hub)


@pytest.mark.slow
def test_the_measure_catches_a_store_that_skips_the_dummy_hash(make_hub):
    # The same measure, the same hashing, the same chain: only the store differs.
    hub = make_hub(**HASHING, plugins={"leaky": LeakyUsers()})
    assert isinstance(hub.users, LeakyStore)
    hub.users.store.create("alice", PASSWORD)
    unknown = refused(hub, basic("mallory", PASSWORD))
    wrong = refused(hub, basic("alice", PASSWORD + "!"))
    paired_timings(unknown, wrong, 5)
    with pytest.raises(AssertionError):
        assert_same_cost(paired_timings(unknown, wrong, 50), "a leaky store")
