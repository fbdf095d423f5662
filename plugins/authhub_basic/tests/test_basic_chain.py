"""Basic in a chain, before and after another scheme."""

from __future__ import annotations

from typing import Any

import pytest

import authhub
from authhub.http import error_response

from .conftest import PASSWORD, basic, refusal, request

BASIC_CHALLENGE = 'Basic realm="api", charset="UTF-8"'


class KeyScheme:
    """A tiny real scheme: ``X-Api-Key: <key>``; a known key is its user, another key is refused."""

    keys = {"k-123": authhub.User(500, "robot")}

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request) -> tuple[Any, Any] | None:
        values = request.headers.get_all("x-api-key")
        if not values:
            return None
        user = self.keys.get(values[0])
        if user is None:
            raise authhub.AuthenticationFailed("Unknown API key.")
        return user, "key-row"

    @authhub.hookimpl
    def challenge(self) -> str:
        return 'ApiKey header="X-Api-Key"'


@pytest.fixture(params=[("basic", "key"), ("key", "basic")], ids=["basic-first", "basic-second"])
def chained(request, make_hub) -> authhub.AuthHub:
    hub = make_hub(schemes=list(request.param), plugins={"key": KeyScheme()})
    hub.users.create("alice", PASSWORD)
    return hub


def test_basic_answers_when_only_basic_credentials_are_sent(chained):
    identity = chained.authenticate(request(chained, basic("alice", PASSWORD)))
    assert (identity.user.username, identity.auth, identity.scheme) == ("alice", None, "basic")


def test_the_other_scheme_answers_when_no_basic_header_is_sent(chained):
    identity = chained.authenticate(request(chained, X_Api_Key="k-123"))
    assert (identity.user.username, identity.auth, identity.scheme) == ("robot", "key-row", "key")


def test_a_bearer_header_is_passed_on_by_basic(chained):
    identity = chained.authenticate(request(chained, "Bearer abc", X_Api_Key="k-123"))
    assert identity.scheme == "key"


def test_nothing_sent_is_anonymous(chained):
    assert chained.authenticate(request(chained)).scheme is None


def test_the_first_scheme_in_the_chain_decides_when_both_are_sent(chained):
    identity = chained.authenticate(request(chained, basic("alice", PASSWORD), X_Api_Key="k-123"))
    assert identity.scheme == chained.schemes[0]


def test_wrong_basic_credentials_stop_the_chain_when_basic_comes_first(make_hub):
    hub = make_hub(schemes=["basic", "key"], plugins={"key": KeyScheme()})
    error = refusal(hub, basic("alice", "wrong"))
    assert (error.scheme, error.detail) == ("basic", "Invalid username/password.")
    with pytest.raises(authhub.AuthenticationFailed):
        hub.authenticate(request(hub, basic("alice", "wrong"), X_Api_Key="k-123"))


def test_a_good_key_wins_over_wrong_basic_credentials_when_the_key_comes_first(make_hub):
    hub = make_hub(schemes=["key", "basic"], plugins={"key": KeyScheme()})
    identity = hub.authenticate(request(hub, basic("alice", "wrong"), X_Api_Key="k-123"))
    assert identity.scheme == "key"


def test_malformed_basic_after_the_other_scheme_is_still_refused(make_hub):
    hub = make_hub(schemes=["key", "basic"], plugins={"key": KeyScheme()})
    error = refusal(hub, "Basic !!!")
    assert (error.scheme, error.status_code) == ("basic", 401)


def test_every_challenge_in_chain_order(chained):
    req = request(chained, basic("alice", "wrong"))
    with pytest.raises(authhub.AuthenticationFailed) as caught:
        chained.authenticate(req)
    response = error_response(chained, req, caught.value)
    challenges = [value for name, value in response.headers if name == "WWW-Authenticate"]
    expected = {"basic": BASIC_CHALLENGE, "key": 'ApiKey header="X-Api-Key"'}
    assert challenges == [expected[name] for name in chained.schemes]
    assert response.status == 401
