"""Guessing keys is slowed down, then locked out (429); valid keys never pay for it."""

from __future__ import annotations

from typing import Any

import pytest

import authhub
from authhub_token import create_token
from authhub_token.keys import generate_key


def request_with(key: str, address: str = "203.0.113.5") -> authhub.Request:
    return authhub.Request("GET", "/", [("Authorization", f"Token {key}")], client=address)


@pytest.fixture
def guarded_hub(authhub_make_hub: Any) -> authhub.AuthHub:
    return authhub_make_hub(schemes=["token"], lockout_backoff_after=3, lockout_threshold=5)


def test_unknown_well_formed_keys_lock_out_the_guesser(guarded_hub):
    guesses = [generate_key() for _ in range(4)]
    statuses = []
    for key in guesses:
        try:
            guarded_hub.authenticate(request_with(key))
        except authhub.AuthhubError as error:
            statuses.append(error.status_code)
    # Each guess has its own prefix, so the pair counters stay low; the address counts them all.
    assert statuses == [401, 401, 401, 401]
    same_prefix = guesses[0]
    outcomes = []
    for _ in range(4):
        try:
            guarded_hub.authenticate(request_with(same_prefix))
        except authhub.AuthhubError as error:
            outcomes.append(error)
    assert [error.status_code for error in outcomes][:2] == [401, 401]
    assert outcomes[-1].status_code == 429
    assert int(outcomes[-1].headers["Retry-After"]) >= 1


def test_a_valid_key_is_not_counted_and_not_slowed(guarded_hub):
    alice = guarded_hub.users.create("alice", "pw")
    key = create_token(guarded_hub, alice.username).key
    for _ in range(20):
        assert guarded_hub.authenticate(request_with(key)).user.username == "alice"
    with guarded_hub.store.connect() as connection:
        counted = connection.exec_driver_sql("SELECT COUNT(*) FROM authhub_attempt").scalar()
    assert counted == 0


def test_bad_checksums_are_refused_without_touching_the_lockout(guarded_hub):
    key = generate_key()
    broken = key[:-1] + ("0" if key[-1] != "0" else "1")
    for _ in range(10):
        with pytest.raises(authhub.AuthenticationFailed):
            guarded_hub.authenticate(request_with(broken))
    with guarded_hub.store.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM authhub_attempt").scalar() == 0
