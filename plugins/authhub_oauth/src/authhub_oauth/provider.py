"""The OpenID Connect provider's endpoints on ``authhub serve`` (added through ``serve_routes``).

``GET /oauth/jwks`` (the published signing keys, RFC 7517), ``GET|POST
/oauth/userinfo`` (OIDC Core §5.3) and ``GET /.well-known/openid-configuration``
(OIDC Discovery §4: the same document as RFC 8414's metadata, with
:func:`authhub_oauth.openid.openid_metadata` in it). All need ``oauth.issuer``: without it they
answer 404, like the metadata.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authhub import AuthenticationFailed, Request, Response, Route
from authhub_oauth import routes as oauth_routes
from authhub_oauth.errors import InsufficientScope, InvalidToken, bearer_challenge
from authhub_oauth.identity import AccessToken
from authhub_oauth.openid import user_info

if TYPE_CHECKING:
    from authhub_oauth.scheme import OAuthScheme

#: Answers about one user, never to be kept by a cache on the way (OIDC Core §5.3.2 says nothing; RFC 6749 §5.1 does).
NO_STORE = ("Cache-Control", "no-store")


def routes(scheme: OAuthScheme) -> list[Route]:
    """The provider's endpoints, bound to ``scheme``."""
    return [
        Route("/oauth/jwks", functools.partial(jwks, scheme), ("GET", "HEAD")),
        Route("/oauth/userinfo", functools.partial(userinfo, scheme), ("GET", "POST")),
        Route("/.well-known/openid-configuration", functools.partial(oauth_routes.metadata, scheme.server),
              ("GET", "HEAD")),
    ]


def _no_issuer() -> Response:
    return Response.json({"detail": "OpenID Connect needs the issuer: set oauth.issuer (AUTHHUB_OAUTH_ISSUER)."},
                         404, [NO_STORE])


def jwks(scheme: OAuthScheme, request: Request) -> Response:
    """The public halves of the current and not yet retired keys; the first key is made here if none exists."""
    server = scheme.server
    if server.issuer() is None:
        return _no_issuer()
    server.tokens.prepare()
    keys = [key.jwk() for key in server.keys.published()]
    # Short: a rotation's new key must reach the verifiers that cached the set (they re-read on an unknown kid too).
    return Response.json({"keys": keys}, headers=[("Cache-Control", "public, max-age=300")])


def userinfo(scheme: OAuthScheme, request: Request) -> Response:
    """``sub`` (and ``preferred_username`` with scope ``profile``) for an access token with scope ``openid``.

    Only tokens this server issued are accepted. No token: 401 with the bare
    ``Bearer`` challenge; a bad one: 401 ``invalid_token``; a token without
    ``openid`` or a client's own token: 403 ``insufficient_scope`` (RFC 6750 §3.1).
    """
    if scheme.server.issuer() is None:
        return _no_issuer()
    try:
        answer = scheme.issued_tokens.authenticate(request)
    except InvalidToken as error:
        return _refused(bearer_challenge(scheme.realm, "invalid_token", error.detail), error.detail)
    except AuthenticationFailed as error:  # a DPoP-bound token without its proof: that scheme's own challenge
        return _refused(scheme.challenge(error), error.detail)
    if answer is None:
        return _refused(bearer_challenge(scheme.realm), "Authentication credentials were not provided.")
    _, token = answer
    if "openid" not in token.scopes or token.user is None:
        raise InsufficientScope(["openid"], scheme.realm)
    return Response.json(dict(user_info(token.user, _scope(token))), headers=[NO_STORE])


def _scope(token: AccessToken) -> str:
    return " ".join(sorted(token.scopes))


def _refused(challenge: str, detail: str) -> Response:
    return Response.json({"detail": detail}, 401, [("WWW-Authenticate", challenge), NO_STORE])


def issued_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` for a resource server of the tokens issued here, whatever ``token_source`` says."""
    return {**settings, "token_source": "opaque"}
