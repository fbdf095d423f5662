"""Parsing ``Authorization: Basic`` strictly, as RFC 7617 says."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

import authhub
from authhub_basic import Credentials, decode_token, encode_credentials

from .conftest import PASSWORD, basic, refusal, request


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def basic_token(header: str | None, max_size: int = 8192) -> str | None:
    """The token the core's reader hands the scheme for ``header`` (``None``: not a Basic header)."""
    items = [] if header is None else [("Authorization", header)]
    return authhub.Request("GET", "/", items).credentials("Basic", max_size)


# -- which headers are Basic at all ------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Bearer abc", "Token abc", "Basicabc", "Digest username=x",
                                    "Bearer\tBasic"])
def test_a_header_that_is_not_basic_is_not_ours(hub, header):
    assert basic_token(header, 8192) is None
    assert hub.authenticate(request(hub, header)).scheme is None


@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC", "bAsIc"])
def test_the_scheme_name_is_case_insensitive(hub, alice, scheme):
    identity = hub.authenticate(request(hub, f"{scheme} {b64(f'alice:{PASSWORD}'.encode())}"))
    assert identity.user.username == "alice"
    assert identity.scheme == "basic"


def test_several_spaces_may_follow_the_scheme_and_whitespace_around_the_value_is_ignored(hub, alice):
    token = b64(f"alice:{PASSWORD}".encode())
    assert hub.authenticate(request(hub, f"Basic   {token}")).user.username == "alice"
    assert hub.authenticate(request(hub, f" \tBasic {token} \t")).user.username == "alice"


def test_no_authorization_header_leaves_the_request_anonymous(hub, alice):
    identity = hub.authenticate(request(hub))
    assert identity.scheme is None
    assert not identity.user.is_authenticated


def test_another_schemes_header_leaves_the_request_anonymous(hub, alice):
    identity = hub.authenticate(request(hub, "Bearer c29tZXRva2Vu"))
    assert identity.scheme is None


# -- malformed Basic headers: each a 401 with its own detail ------------------------------

MALFORMED = {
    "no credentials": ("Basic", "no credentials provided"),
    "only spaces": ("Basic    ", "no credentials provided"),
    "tab after the scheme": ("Basic\tdXNlcjpwdw==", "the scheme must be followed by a space, not a tab"),
    "two tokens": ("Basic dXNlcjpwdw== extra", "the credentials must be a single token, without spaces"),
    "a tab inside": ("Basic dXNlcjpwdw==\tx", "the credentials must be a single token, without spaces"),
    "not base64 alphabet": ("Basic dXNlc*pwdw==", "the credentials are not valid base64"),
    "url-safe alphabet": ("Basic " + base64.urlsafe_b64encode(b"us\xfbr:pw>?").decode(),
                          "the credentials are not valid base64"),
    "missing padding": ("Basic dXNlcjpwdw", "the credentials are not valid base64"),
    "junk after padding": ("Basic dXNlcjpwdw==dXNl", "the credentials are not valid base64"),
    "stray padding bits": ("Basic dXNlcjpwdx==", "the credentials are not valid base64"),
    "non-ASCII in the token": ("Basic dXNlcjpwdw==é", "the credentials are not valid base64"),
    "not UTF-8": ("Basic " + b64(b"\xff\xfeuser:pw"), "the credentials are not valid UTF-8"),
    "latin-1 encoded": ("Basic " + b64("jürgen:pw".encode("latin-1")), "the credentials are not valid UTF-8"),
    "no colon": ("Basic " + b64(b"alice"), "the credentials must be user-id:password, and there is no colon"),
    "empty user-id": ("Basic " + b64(f":{PASSWORD}".encode()), "the user-id is empty"),
    "empty everything": ("Basic " + b64(b":"), "the user-id is empty"),
    "NUL in user-id": ("Basic " + b64(f"al\x00ice:{PASSWORD}".encode()), "the credentials contain control characters"),
    "newline in password": ("Basic " + b64(b"alice:pass\nword"), "the credentials contain control characters"),
    "DEL in password": ("Basic " + b64(b"alice:password\x7f"), "the credentials contain control characters"),
    "C1 control": ("Basic " + b64("alice:pass\u0085word".encode()), "the credentials contain control characters"),
}


@pytest.mark.parametrize("header, reason", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_basic_header_is_a_401_that_says_what_is_wrong(hub, alice, header, reason):
    error = refusal(hub, header)
    assert isinstance(error, authhub.MalformedCredentials)
    assert error.reason == reason
    assert error.status_code == 401
    assert error.detail == f"Invalid Basic authorization header: {reason}."
    assert error.scheme == "basic"


def test_a_header_over_the_size_limit_is_refused_before_it_is_decoded(hub, alice):
    # Invalid base64 too: the size is what gets reported, so decoding never started.
    error = refusal(hub, "Basic " + "*" * 8200)
    assert error.status_code == 401
    assert error.detail == "Invalid Basic authorization header: longer than 8192 characters."


def test_the_size_limit_is_a_setting_and_a_header_at_the_limit_passes(make_hub):
    hub = make_hub(basic={"max_header_size": 64})
    hub.users.create("bob", "x" * 10)
    at_limit = basic("bob", "x" * 10)
    assert len(at_limit) <= 64
    assert hub.authenticate(request(hub, at_limit)).user.username == "bob"
    long_password = basic("bob", "y" * 60)
    assert refusal(hub, long_password).detail == "Invalid Basic authorization header: longer than 64 characters."


def test_the_size_limit_leaves_other_schemes_headers_alone(hub):
    assert basic_token("Bearer " + "a" * 100_000, 8192) is None
    assert hub.authenticate(request(hub, "Bearer " + "a" * 100_000)).scheme is None


def test_no_detail_ever_repeats_what_was_sent(hub, alice):
    secret = "s3cr3t-PASSWORD"
    for header in [basic("alice", f"{secret}\x01"), "Basic " + b64(secret.encode()), basic("", secret)]:
        error = refusal(hub, header)
        assert secret not in error.detail
        assert secret not in repr(error)
        assert header.split()[1] not in error.detail


# -- decoding -------------------------------------------------------------------------------


def test_the_user_id_ends_at_the_first_colon():
    credentials = decode_token(b64(b"alice:pass:word:"))
    assert credentials.user_id == "alice"
    assert credentials.password == "pass:word:"


def test_an_empty_password_is_well_formed():
    # RFC 7617 allows it; the user store is the one to refuse it.
    credentials = decode_token(b64(b"alice:"))
    assert (credentials.user_id, credentials.password) == ("alice", "")


def test_credentials_never_show_the_password():
    credentials = decode_token(b64(b"alice:hunter2"))
    assert "hunter2" not in repr(credentials)
    assert "alice" in repr(credentials)


def test_encode_credentials_refuses_a_user_id_with_a_colon():
    with pytest.raises(ValueError, match="cannot contain ':'"):
        encode_credentials("al:ice", "pw")


user_ids = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=":"), min_size=1, max_size=40
)
passwords = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=60)


@given(user_ids, passwords)
def test_any_utf8_user_id_and_password_survive_the_round_trip(user_id, password):
    header = encode_credentials(user_id, password)
    assert header == basic(user_id, password)
    credentials = decode_token(basic_token(header, 8192))
    assert isinstance(credentials, Credentials)
    assert (credentials.user_id, credentials.password) == (user_id, password)


@given(st.text(max_size=80))
def test_any_token_decodes_or_is_refused_with_a_401(token):
    try:
        decode_token(token)
    except authhub.MalformedCredentials as error:
        assert error.status_code == 401
        assert error.detail.startswith("Invalid Basic authorization header: ")


@given(st.binary(max_size=60))
def test_any_bytes_decode_or_are_refused_with_a_401(raw):
    try:
        credentials = decode_token(b64(raw))
    except authhub.AuthenticationFailed as error:
        assert error.status_code == 401
    else:
        assert f"{credentials.user_id}:{credentials.password}".encode() == raw
