"""authhub's requests as Authlib sees them, and client authentication that cannot crash.

The authorization endpoint reads its parameters from the query string; the
token, revocation and introspection endpoints from the form body only, so
a client secret in a URL is never accepted.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl, unquote

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, OAuth2Payload, OAuth2Request
from sqlalchemy.orm import Session

from authhub import MalformedCredentials, Request
from authhub_oauth.models import OAuthClient


class Payload(OAuth2Payload):  # type: ignore[misc]
    """OAuth parameters from one source (query or form), keeping repeated ones for Authlib's checks."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class OAuthRequest(OAuth2Request):  # type: ignore[misc]
    """An :class:`authhub.Request` as Authlib sees it.

    The authorization endpoint reads its parameters from the query string;
    the token, revocation and introspection endpoints from the form body
    only, so a client secret in a URL is never accepted.
    """

    def __init__(self, request: Request, *, from_query: bool) -> None:
        query = f"?{request.query_string}" if request.query_string else ""
        super().__init__(request.method, f"{request.origin}{request.path}{query}", headers=request.headers)
        self.hub_request = request
        self._args = _storable(parse_qsl(request.query_string, keep_blank_values=True))
        self._form = _storable(_form_pairs(request)) if request.method == "POST" else []
        self.payload = Payload(self._args if from_query else self._form)
        #: The transaction tokens are saved in, when a grant claims something first.
        self.db_session: Session | None = None

    @property
    def args(self) -> dict[str, str]:
        return dict(self._args)

    @property
    def form(self) -> dict[str, str]:
        return dict(self._form)


def _form_pairs(request: Request) -> list[tuple[str, str]]:
    content_type = request.headers.get_all("content-type")
    if not content_type or content_type[0].split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return []
    try:
        text = request.body().decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("The request body is not UTF-8.") from None
    return parse_qsl(text, keep_blank_values=True)


#: Parameters whose syntax is ASCII (RFC 6749 Appendix A) and that Authlib repeats in an error description,
#: where anything else is not allowed (it would raise ValueError, a 500).
_ASCII_PARAMETERS = frozenset({"response_type", "grant_type"})


def _storable(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pairs``, refused when one holds text a database cannot store or compare (NUL).

    The description never repeats what was sent: an error description may
    hold printable ASCII only (RFC 6749 §5.2).
    """
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise InvalidRequestError("A parameter contains a NUL character.")
        if key in _ASCII_PARAMETERS and not (value.isascii() and value.isprintable()):
            raise InvalidRequestError(f"The '{key}' parameter must be printable ASCII.")
    return pairs


def basic_client_credentials(request: Request) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` of a ``Basic`` Authorization header; ``None`` without one.

    RFC 6749 §2.3.1: the id and secret are form-urlencoded, then Basic-encoded.

    :raises InvalidClientError: a Basic header that does not decode to ``id:secret`` (401,
        so it counts as a failed client authentication).
    """
    try:
        encoded = request.credentials("Basic")
        if encoded is None:
            return None
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        client_id, sep, secret = decoded.partition(":")
        client_id, secret = unquote(client_id, errors="strict"), unquote(secret, errors="strict")
    except (MalformedCredentials, binascii.Error, UnicodeDecodeError):
        raise InvalidClientError(status_code=401, description="Malformed client credentials.") from None
    if not sep or not client_id or "\x00" in client_id or "\x00" in secret:
        raise InvalidClientError(status_code=401, description="Malformed client credentials.")
    return client_id, secret


def authenticate_client_secret_basic(query_client: Any, request: OAuthRequest) -> OAuthClient | None:
    """``client_secret_basic`` that refuses malformed credentials (``invalid_client``) instead of skipping them."""
    credentials = basic_client_credentials(request.hub_request)
    if credentials is None:
        return None
    client_id, secret = credentials
    client: OAuthClient | None = query_client(client_id)
    if client is None:
        raise InvalidClientError(status_code=401, description="The client does not exist on this server.")
    if client.check_client_secret(secret):
        return client
    return None
