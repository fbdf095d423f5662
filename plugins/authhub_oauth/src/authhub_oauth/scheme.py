"""``OAuthScheme``: one hub's OAuth 2.0 resource server and authorization server.

The hub makes one with ``create_scheme`` and registers it, so its hook
methods answer for that hub alone, and everything it keeps (the token
lookup, the introspection cache, the JWKS, HTTP clients, Authlib's server)
goes away with the hub. The module functions (``create_client``,
``revoke_tokens``, ``require_scopes``, ...) find it with
``hub.find_scheme(OAuthScheme)``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

import authhub
from authhub import AuthHub, AuthhubError, Request, Route, UserLike
from authhub_oauth import provider, routes
from authhub_oauth import settings as oauth_settings
from authhub_oauth.identity import AccessToken
from authhub_oauth.issued_jwt import IssuedJWTValidator
from authhub_oauth.resource import BearerResource, challenge_for
from authhub_oauth.server import OAuthServer

log = logging.getLogger("authhub.oauth")

#: The client that ``auth_headers`` issues test tokens through.
TEST_CLIENT_ID = "authhub-test-client"


def checks_issued_tokens(settings: Mapping[str, Any]) -> bool:
    """Whether the resource server of ``settings`` checks the tokens this server issued."""
    source = settings["token_source"]
    return bool(source == "opaque")


class OAuthScheme(authhub.Scheme):
    """``Authorization: Bearer`` (RFC 6750) for one hub, and that hub's authorization server.

    :ivar resource: the resource server: the validator ``token_source`` names.
    :ivar server: the authorization server (Authlib), its grants and endpoints.
    :ivar realm: the realm of the ``Bearer`` challenges.
    """

    position = 200

    def __init__(self, hub: AuthHub, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(hub, name, settings)
        oauth_settings.check(settings)
        self.realm: str = settings["realm"]
        self.server = OAuthServer(hub, settings)
        self.resource = BearerResource(hub, settings, issued_jwts=self._issued_jwts(settings))
        self.server.dpop_proofs = self.resource.proofs  # one record of used DPoP proofs per hub

    def _issued_jwts(self, settings: Mapping[str, Any]) -> IssuedJWTValidator | None:
        """The check of the JWT access tokens issued here, for a resource server of this server's tokens."""
        if not checks_issued_tokens(settings):
            return None
        return IssuedJWTValidator(self.hub, settings, self.server.keys, self.server.revoked_jwts)

    @functools.cached_property
    def issued_tokens(self) -> BearerResource:
        """The resource server of the tokens issued here (``/oauth/userinfo``): :attr:`resource` unless it checks
        another issuer's."""
        if checks_issued_tokens(self.settings):
            return self.resource
        settings = provider.issued_settings(self.settings)
        return BearerResource(self.hub, settings, issued_jwts=self._issued_jwts(settings))

    def openapi(self) -> dict[str, Any]:
        """OAuth 2.0 with this hub's flows when it issues the tokens; a plain bearer token otherwise.

        The URLs are the ``issuer`` setting's, else relative to the API
        (the routes ``authhub serve`` and the framework adapters mount).
        """
        description = "authhub-oauth: an OAuth 2.0 access token (RFC 6750)."
        source = self.settings["token_source"]
        if source != "opaque":  # the tokens come from another authorization server
            return {"type": "http", "scheme": "bearer", "description": description}
        base = str(self.settings["issuer"] or "").rstrip("/")
        token_url = f"{base}/oauth/token"
        return {
            "type": "oauth2",
            "description": f"{description} Authorization code with PKCE (S256), or client credentials.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{base}/oauth/authorize",
                    "tokenUrl": token_url,
                    "refreshUrl": token_url,
                    "scopes": {},
                },
                "clientCredentials": {"tokenUrl": token_url, "scopes": {}},
            },
        }

    # -- the hub's hooks ---------------------------------------------------------------

    @authhub.hookimpl
    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        return self.resource.authenticate(request)

    @authhub.hookimpl
    async def aauthenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        """The ASGI form: no token and a cache hit on the event loop; a check against the store in a thread."""
        return await self.resource.aauthenticate(request)

    @authhub.hookimpl
    def challenge(self, error: AuthhubError | None) -> str:
        return challenge_for(self.realm, error, self.settings["dpop_algorithms"])

    @authhub.hookimpl
    def serve_routes(self) -> list[Route]:
        return [*routes.routes(self.server), *provider.routes(self)]

    @authhub.hookimpl
    def invalidated(self, kind: str, key: str) -> None:
        self.resource.invalidated(kind, key)
        if "issued_tokens" in self.__dict__ and self.issued_tokens is not self.resource:
            self.issued_tokens.invalidated(kind, key)
        self.server.keys.invalidated(kind, key)
        self.server.revoked_jwts.invalidated(kind, key)

    @authhub.hookimpl
    def user_changed(self, user: UserLike) -> None:
        """A new password or a change of status revokes every token issued for the user."""
        try:
            self.server.revoke_user_tokens(str(user.id))
        except authhub.StoreUnavailable:
            # The change itself is done; tokens of an inactive user are refused anyway.
            log.error("could not revoke the tokens of a changed user: store unavailable")

    @authhub.hookimpl
    def auth_headers(self, user: Any) -> dict[str, str]:
        """An opaque access token for ``user``, issued through a test client made on first use."""
        self.server.ensure_client(TEST_CLIENT_ID, "authhub tests")
        return {"Authorization": f"Bearer {self.server.issue_token(TEST_CLIENT_ID, user)}"}

    def close(self) -> None:
        self.resource.close()
        if "issued_tokens" in self.__dict__ and self.issued_tokens is not self.resource:
            self.issued_tokens.close()
