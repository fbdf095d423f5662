"""The header, DRF's cases and ours: missing key, spaces, keyword case, inactive user, challenge."""

from __future__ import annotations

import pytest

import authhub
import authhub_token
from authhub.http import error_response
from authhub_token.keys import generate_key

from .conftest import refusal, request


@pytest.fixture
def key(hub, alice):
    return authhub_token.create_token(hub, "alice").key


def test_no_authorization_header_is_anonymous(hub):
    identity = hub.authenticate(request(hub))
    assert not identity.is_authenticated and identity.scheme is None


def test_another_scheme_keyword_is_not_ours(hub, key):
    assert not hub.authenticate(request(hub, f"Bearer {key}")).is_authenticated
    assert not hub.authenticate(request(hub, "Basic YWxpY2U6cHc=")).is_authenticated
    assert not hub.authenticate(request(hub, f"Tokens {key}")).is_authenticated


@pytest.mark.parametrize("keyword", ["Token", "token", "TOKEN", "tOkEn"])
def test_the_keyword_matches_case_insensitively(hub, key, keyword):
    identity = hub.authenticate(request(hub, f"{keyword} {key}"))
    assert identity.scheme == "token" and identity.user.username == "alice"


def test_auth_is_a_light_frozen_token_info(hub, key):
    identity = hub.authenticate(request(hub, f"Token {key}"))
    assert isinstance(identity.auth, authhub_token.TokenInfo)
    assert identity.auth.user_id == identity.user.id and identity.auth.name == "default"
    assert isinstance(identity.user, authhub.User)
    with pytest.raises(AttributeError):
        identity.auth.name = "other"
    assert key not in repr(identity)


@pytest.mark.parametrize("header", ["Token", "Token ", "token   "])
def test_keyword_without_a_key(hub, header):
    error = refusal(hub, header)
    assert error.status_code == 401
    assert error.detail == "Invalid token header. No credentials provided."


@pytest.mark.parametrize("header", ["Token abc def", "Token ahk_x y z", "Token  a\tb"])
def test_a_key_with_spaces(hub, header):
    error = refusal(hub, header)
    assert error.status_code == 401
    assert error.detail == "Invalid token header. Token string should not contain spaces."


def test_other_unreadable_headers_keep_the_core_readers_message(hub, key):
    # The one Authorization reader (RFC 9110: a space after the scheme); DRF's words cover only the two cases above.
    error = refusal(hub, f"Token\t{key}")
    assert error.status_code == 401 and "not a tab" in error.detail and key not in error.detail
    assert "longer than" in refusal(hub, "Token " + "a" * 9000).detail


def test_unknown_key(hub, alice):
    error = refusal(hub, f"Token {generate_key()}")
    assert (error.status_code, error.detail) == (401, "Invalid token.")


@pytest.mark.parametrize(
    "junk", ["x", "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "ahk_", "ахк_ключ", "ahk_" + "é" * 51]
)
def test_malformed_keys(hub, alice, junk):
    error = refusal(hub, f"Token {junk}")
    assert (error.status_code, error.detail) == (401, "Invalid token.")


def test_one_changed_character_is_refused(hub, key):
    position = 20
    changed = key[:position] + ("A" if key[position] != "A" else "B") + key[position + 1:]
    assert refusal(hub, f"Token {changed}").detail == "Invalid token."
    assert refusal(hub, f"Token {key[:-1]}").detail == "Invalid token."
    assert hub.authenticate(request(hub, f"Token {key}")).user.username == "alice"


def test_inactive_user(hub, key):
    hub.users.deactivate("alice")
    error = refusal(hub, f"Token {key}")
    assert (error.status_code, error.detail) == (401, "User inactive or deleted.")


def test_the_challenge_is_the_keyword(hub, alice):
    req = request(hub, f"Token {generate_key()}")
    with pytest.raises(authhub.AuthenticationFailed) as caught:
        hub.authenticate(req)
    response = error_response(hub, req, caught.value)
    assert response.status == 401
    assert response.header("WWW-Authenticate") == "Token"
    assert response.body == b'{"detail":"Invalid token."}'


def test_a_configured_keyword(make_hub):
    hub = make_hub(token={"keyword": "Bearer"})
    hub.users.create("bob", "pw")
    key = authhub_token.create_token(hub, "bob").key
    assert hub.authenticate(request(hub, f"bearer {key}")).user.username == "bob"
    assert not hub.authenticate(request(hub, f"Token {key}")).is_authenticated
    req = request(hub, "Bearer")
    with pytest.raises(authhub.AuthenticationFailed) as caught:
        hub.authenticate(req)
    assert error_response(hub, req, caught.value).header("WWW-Authenticate") == "Bearer"


def test_a_keyword_with_spaces_is_a_configuration_error(make_hub):
    # Checked once, when the hub is built: it refuses to start, so it never serves anonymously.
    with pytest.raises(authhub.ConfigurationError, match="token.keyword") as caught:
        make_hub(token={"keyword": "My Token"})
    assert caught.value.status_code == 500


def test_a_repeated_authorization_header_is_a_bad_request(hub, key):
    req = authhub.Request("GET", "/", [("Authorization", f"Token {key}"), ("Authorization", f"Token {key}")], hub=hub)
    with pytest.raises(authhub.BadRequest):
        hub.authenticate(req)


def test_without_tables_the_request_fails_closed_with_503(make_hub):
    hub = make_hub(upgrade=False)
    error = refusal(hub, f"Token {generate_key()}")
    assert error.status_code == 503
