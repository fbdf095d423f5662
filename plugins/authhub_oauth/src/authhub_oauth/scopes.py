"""What views use: the scopes a request's access token must grant."""

from __future__ import annotations

import functools
from collections.abc import Callable

from authlib.oauth2.rfc6749 import TokenValidator

from authhub import NotAuthenticated, Request, Response
from authhub_oauth.errors import InsufficientScope
from authhub_oauth.identity import AccessToken
from authhub_oauth.scheme import OAuthScheme


def require_scopes(request: Request, *scopes: str) -> AccessToken:
    """Return the request's access token when it grants every scope in ``scopes``.

    Raises :class:`authhub.NotAuthenticated` (401 with the bare ``Bearer``
    challenge) when the request was not authenticated by a bearer token,
    and :class:`InsufficientScope` (403 ``insufficient_scope`` with
    ``scope="..."``) when a scope is missing.
    """
    identity = request.identity
    auth = identity.auth
    # A request given its identity without a hub (a test, an adapter) goes by the defaults.
    scheme = request.hub.find_scheme(OAuthScheme) if request.hub is not None else None
    name, realm = (scheme.name, scheme.realm) if scheme is not None else ("oauth", "authhub")
    if identity.scheme != name or not isinstance(auth, AccessToken):
        raise NotAuthenticated()
    if TokenValidator.scope_insufficient(sorted(auth.scopes), [" ".join(scopes)]):
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
