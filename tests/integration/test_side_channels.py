"""Timing side channels, measured so that a loaded machine does not decide the result.

Each comparison runs the two cases back to back, in alternating order, many
times; the test compares the median of the per-pair ratios (both requests
of a pair share whatever else the machine was doing at that moment).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from authhub import AuthenticationFailed, Request
from authhub.server import make_app
from authhub_token.keys import ALPHABET, PREFIX, RANDOM_LENGTH

from .conftest import World, basic, make_world
from .strategies import Hostile, well_formed_key
from .test_hostile_input import call_wsgi

pytestmark = pytest.mark.slow

#: argon2 dear enough (4 MiB) to be most of a Basic request's cost, as in production.
HASHING = {"password_time_cost": 1, "password_memory_cost": 4096, "password_parallelism": 1}


def median_ratio(first: Callable[[], object], second: Callable[[], object], pairs: int) -> float:
    """Median over ``pairs`` of time(first) / time(second), measured adjacent, order alternating."""
    ratios = []
    for index in range(pairs + 5):
        spent = {}
        for name, call in ((("a", first), ("b", second)) if index % 2 else (("b", second), ("a", first))):
            start = time.perf_counter()
            call()
            spent[name] = time.perf_counter() - start
        if index >= 5:  # the first pairs warm caches and pools up
            ratios.append(spent["a"] / spent["b"])
    return statistics.median(ratios)


@pytest.fixture
def slow_world(tmp_path: Path) -> Iterator[World]:
    world = make_world(tmp_path, **HASHING)
    yield world
    world.hub.close()


def test_basic_unknown_user_and_wrong_password_cost_the_same_through_the_whole_stack(slow_world: World) -> None:
    app = make_app(slow_world.hub)
    alice = slow_world.people["alice"]

    def attempt(username: str, password: str) -> Callable[[], object]:
        hostile = Hostile((("Authorization", basic(username, password)),))

        def call() -> object:
            status, _, body = call_wsgi(app, hostile, "/protected")
            assert (status, body) == (401, b'{"detail":"Invalid username/password."}')
            return None

        return call

    ratio = median_ratio(attempt("mallory", alice.password), attempt("alice", alice.password + "!"), 120)
    print(f"\nbasic: median ratio unknown user / wrong password = {ratio:.3f}")
    assert abs(ratio - 1) < 0.2


def test_token_sharing_a_real_keys_prefix_costs_the_same_as_a_random_key(slow_world: World) -> None:
    """The lookup is by SHA-256 of the whole key: a key that matches a real one in all but its last
    random character takes as long to refuse as an unrelated one. (A key with a bad checksum is refused
    earlier, without the database; the checksum is public, so that tells an attacker nothing.)"""
    hub = slow_world.hub
    real = slow_world.people["alice"].token
    body = real[len(PREFIX):len(PREFIX) + RANDOM_LENGTH]
    near = well_formed_key(body[:-1] + ("A" if body[-1] != "A" else "B"))
    unrelated = well_formed_key("".join(reversed(ALPHABET))[:RANDOM_LENGTH])
    assert near != real

    def refused(key: str) -> Callable[[], object]:
        request_headers = [("Authorization", f"Token {key}")]

        def call() -> object:
            with pytest.raises(AuthenticationFailed):
                hub.authenticate(Request("GET", "/", request_headers, hub=hub))
            return None

        return call

    ratio = median_ratio(refused(near), refused(unrelated), 400)
    print(f"\ntoken: median ratio shared-prefix key / random key = {ratio:.3f}")
    assert abs(ratio - 1) < 0.2


def test_the_measure_sees_a_real_difference(slow_world: World) -> None:
    """The method is not blind: a wrong password (argon2) against a malformed header (no hash) differs."""
    app = make_app(slow_world.hub)
    hashed = Hostile((("Authorization", basic("alice", "wrong")),))
    malformed = Hostile((("Authorization", "Basic !!!"),))
    ratio = median_ratio(lambda: call_wsgi(app, hashed), lambda: call_wsgi(app, malformed), 20)
    print(f"\ncontrol: median ratio argon2 / no hash = {ratio:.1f}")
    assert ratio > 2
