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
        self._args = parse_qsl(request.query_string, keep_blank_values=True)
        self._form = _form_pairs(request) if request.method == "POST" else []
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


def authenticate_client_secret_basic(query_client: Any, request: OAuthRequest) -> OAuthClient | None:
    """``client_secret_basic`` that refuses undecodable credentials instead of failing with a 500.

    RFC 6749 §2.3.1: the id and secret are form-urlencoded, then Basic-encoded.
    """
    try:
        encoded = request.hub_request.credentials("Basic")
        if encoded is None:
            return None
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (MalformedCredentials, binascii.Error, UnicodeDecodeError):
        raise InvalidClientError(status_code=401, description="Malformed client credentials.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    try:
        client_id, secret = unquote(client_id, errors="strict"), unquote(secret, errors="strict")
    except UnicodeDecodeError:
        raise InvalidClientError(status_code=401, description="Malformed client credentials.") from None
    client: OAuthClient | None = query_client(client_id)
    if client is None:
        raise InvalidClientError(status_code=401, description="The client does not exist on this server.")
    if client.check_client_secret(secret):
        return client
    return None
