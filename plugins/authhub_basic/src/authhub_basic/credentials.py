"""Decoding and encoding the token of ``Authorization: Basic``, strictly as RFC 7617 says.

The header itself is read by the core (``request.credentials("Basic")``),
which hands over the token; :func:`decode_token` turns that token into a
user-id and a password. The credentials cache sits between the two steps.
A token that cannot be decoded is an :class:`authhub.MalformedCredentials`
whose detail says what is wrong and never repeats what was sent.
"""

from __future__ import annotations

import base64
import binascii
import re

from authhub import MalformedCredentials

#: The auth-scheme of RFC 7617, as the core's reader matches it (case-insensitively).
KEYWORD = "Basic"

#: RFC 5234's CTL (%x00-1F / %x7F) plus the C1 controls, which are just as
#: invisible once decoded as UTF-8.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class Credentials:
    """A user-id and a password taken from a Basic header."""

    __slots__ = ("password", "user_id")

    def __init__(self, user_id: str, password: str) -> None:
        self.user_id = user_id
        self.password = password

    def __repr__(self) -> str:
        # Never show the password.
        return f"Credentials(user_id={self.user_id!r}, password=***)"


def malformed(reason: str) -> MalformedCredentials:
    """``Invalid Basic authorization header: <reason>.``, as the core's reader words its own refusals."""
    return MalformedCredentials(KEYWORD, reason)


def decode_token(token: str) -> Credentials:
    """Decode a Basic token into its user-id and password.

    The token must be canonical base64 (RFC 4648 §4, padded, no other
    characters, no stray bits), the decoded bytes UTF-8 (the ``charset``
    this scheme announces), with a colon after a non-empty user-id; the
    password is everything after the *first* colon, so it may hold colons.
    Neither part may contain control characters (RFC 7617 §2).

    :raises MalformedCredentials: naming the first rule the token breaks.
    """
    if not token.isascii():
        raise malformed("the credentials are not valid base64")
    encoded = token.encode("ascii")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise malformed("the credentials are not valid base64") from None
    if base64.b64encode(raw) != encoded:
        # b64decode accepts non-zero padding bits, so two tokens could name
        # the same credentials; only the canonical one is accepted.
        raise malformed("the credentials are not valid base64")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise malformed("the credentials are not valid UTF-8") from None
    user_id, colon, password = text.partition(":")
    if not colon:
        raise malformed("the credentials must be user-id:password, and there is no colon")
    if not user_id:
        raise malformed("the user-id is empty")
    if _CONTROL.search(text):
        raise malformed("the credentials contain control characters")
    return Credentials(user_id, password)


def encode_credentials(user_id: str, password: str) -> str:
    """The ``Authorization`` header value for ``user_id`` and ``password`` (UTF-8, base64)."""
    if ":" in user_id:
        raise ValueError("a Basic user-id cannot contain ':'")
    token = base64.b64encode(f"{user_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"
