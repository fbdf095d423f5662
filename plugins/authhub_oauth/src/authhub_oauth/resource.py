"""The resource server: ``Authorization: Bearer`` in, ``(user, AccessToken)`` out (RFC 6750).

Only the ``Authorization`` header is read: tokens in query strings or form
bodies are never looked at (RFC 6750 §2.3 and §5.3 advise against them).
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error, ResourceProtector, TokenValidator
from authlib.oauth2.rfc6750 import InvalidTokenError

from authhub import AuthHub, AuthhubError, NotAuthenticated, Request, Response
from authhub_oauth import settings as oauth_settings
from authhub_oauth.errors import InsufficientScope, InvalidBearerRequest, InvalidToken, bearer_challenge
from authhub_oauth.identity import AccessToken
from authhub_oauth.validators import IntrospectionValidator, JWTTokenValidator, OpaqueTokenValidator

#: RFC 6750 §2.1: ``b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="``
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_LENGTH = 8192


def bearer_token(request: Request, realm: str) -> str | None:
    """The bearer token of ``request``; ``None`` when it sends no ``Bearer`` credentials.

    A ``Bearer`` header without a well-formed token is a malformed request (400).
    """
    header = request.authorization
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not token:
        raise InvalidBearerRequest("The Bearer authorization header has no token.", realm)
    if len(token) > MAX_TOKEN_LENGTH or not B64TOKEN.fullmatch(token):
        raise InvalidBearerRequest("The bearer token is malformed.", realm)
    return token


class BearerResource:
    """One hub's resource server: Authlib's ``ResourceProtector`` with the configured validator."""

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        oauth_settings.check(settings)
        self.hub = hub
        self.realm: str = settings["realm"]
        source = settings["token_source"]
        self.validator: Any
        if source == "jwt":
            self.validator = JWTTokenValidator(hub, settings)
        elif source == "introspection":
            self.validator = IntrospectionValidator(hub, settings)
        else:
            self.validator = OpaqueTokenValidator(hub, self.realm)
        self.protector = ResourceProtector()
        self.protector.register_token_validator(self.validator)

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        token_string = bearer_token(request, self.realm)
        if token_string is None:
            return None
        try:
            token = self.protector.validate_request(None, request)
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


_resources: weakref.WeakKeyDictionary[AuthHub, BearerResource] = weakref.WeakKeyDictionary()


def resource_for(hub: AuthHub, settings: Mapping[str, Any]) -> BearerResource:
    """The hub's resource server, built on first use (it keeps the JWKS and introspection caches)."""
    resource = _resources.get(hub)
    if resource is None:
        resource = _resources.setdefault(hub, BearerResource(hub, settings))
    return resource


def challenge(realm: str, error: AuthhubError | None) -> str:
    """This scheme's ``WWW-Authenticate`` for a 401: bare, or with ``invalid_token``."""
    if isinstance(error, InvalidToken):
        return bearer_challenge(realm, "invalid_token", error.detail)
    return bearer_challenge(realm)


# -- for views ------------------------------------------------------------------------


def require_scopes(request: Request, *scopes: str) -> AccessToken:
    """Return the request's access token when it grants every scope in ``scopes``.

    Raises :class:`authhub.NotAuthenticated` (401 with the bare ``Bearer``
    challenge) when the request was not authenticated by a bearer token,
    and :class:`InsufficientScope` (403 ``insufficient_scope`` with
    ``scope="..."``) when a scope is missing.
    """
    identity = request.identity
    auth = identity.auth
    if identity.scheme != "oauth" or not isinstance(auth, AccessToken):
        raise NotAuthenticated()
    if TokenValidator.scope_insufficient(sorted(auth.scopes), [" ".join(scopes)]):
        realm = request.hub.settings.section("oauth").get("realm", "authhub") if request.hub else "authhub"
        raise InsufficientScope(scopes, realm)
    return auth


def scopes_required(*scopes: str) -> Callable[[Callable[[Request], Response]], Callable[[Request], Response]]:
    """Decorate a route handler so it runs only for a bearer token with ``scopes``."""

    def decorate(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        @functools.wraps(handler)
        def wrapper(request: Request) -> Response:
            require_scopes(request, *scopes)
            return handler(request)

        return wrapper

    return decorate
