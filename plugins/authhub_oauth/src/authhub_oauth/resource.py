"""The resource server: ``Authorization: Bearer`` in, ``(user, AccessToken)`` out (RFC 6750).

Only the ``Authorization`` header is read, through :meth:`authhub.Request.credentials`:
tokens in query strings or form bodies are never looked at (RFC 6750 §2.3
and §5.3 advise against them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError

from authhub import AuthHub, AuthhubError, MalformedCredentials, Request
from authhub_oauth.errors import InvalidBearerRequest, InvalidToken, bearer_challenge
from authhub_oauth.identity import AccessToken
from authhub_oauth.validators import IntrospectionValidator, JWTTokenValidator, OpaqueTokenValidator

#: RFC 6750 §2.1: ``b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="``
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: The longest ``Authorization: Bearer`` header read; a longer one is a malformed request.
MAX_HEADER_SIZE = 8192


def bearer_token(request: Request, realm: str) -> str | None:
    """The bearer token of ``request``; ``None`` when it sends no ``Bearer`` credentials.

    A ``Bearer`` header without a well-formed token is a malformed request (400).
    """
    try:
        token = request.credentials("Bearer", MAX_HEADER_SIZE)
    except MalformedCredentials as error:
        raise InvalidBearerRequest(error.detail, realm) from None
    if token is not None and not B64TOKEN.fullmatch(token):
        raise InvalidBearerRequest("The bearer token is malformed.", realm)
    return token


class BearerResource:
    """One hub's resource server: the validator that ``token_source`` names."""

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        self.hub = hub
        self.realm: str = settings["realm"]
        source = settings["token_source"]
        self.validator: OpaqueTokenValidator | JWTTokenValidator | IntrospectionValidator
        if source == "jwt":
            self.validator = JWTTokenValidator(hub, settings)
        elif source == "introspection":
            self.validator = IntrospectionValidator(hub, settings)
        else:
            self.validator = OpaqueTokenValidator(hub, self.realm)

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        token_string = bearer_token(request, self.realm)
        if token_string is None:
            return None
        try:
            # What Authlib's ResourceProtector does once the header is read.
            token: Any = self.validator.authenticate_token(token_string)
            self.validator.validate_token(token, None, request)
            return self.validator.identity(token)
        except InvalidTokenError as error:
            if isinstance(self.validator, OpaqueTokenValidator):
                # Guessing tokens: count it against the token's first characters and
                # the address; 429 once they are locked. Good tokens never pay for it.
                subject = f"bearer:{token_string[:8]}"
                self.hub.lockout.check(request, subject)
                self.hub.lockout.failed(request, subject)
            raise InvalidToken(error.get_error_description()) from None
        except OAuth2Error as error:
            raise InvalidBearerRequest(error.get_error_description() or "Malformed bearer request.",
                                       self.realm) from None

    def invalidated(self, kind: str, key: str) -> None:
        """Drop kept answers that ``kind``/``key`` made wrong (only introspection keeps any)."""
        if isinstance(self.validator, IntrospectionValidator):
            self.validator.forget(kind, key)

    def close(self) -> None:
        if isinstance(self.validator, (JWTTokenValidator, IntrospectionValidator)):
            self.validator.close()


def challenge_for(realm: str, error: AuthhubError | None) -> str:
    """This scheme's ``WWW-Authenticate`` for a 401: bare, or with ``invalid_token``."""
    if isinstance(error, InvalidToken):
        return bearer_challenge(realm, "invalid_token", error.detail)
    return bearer_challenge(realm)
