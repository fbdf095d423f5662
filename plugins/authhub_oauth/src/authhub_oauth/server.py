"""The authorization server: Authlib's ``AuthorizationServer`` on authhub's requests and store.

Authlib runs the protocol; :mod:`authhub_oauth.grants` and
:mod:`authhub_oauth.endpoints` supply storage and the stricter rules, and
:mod:`authhub_oauth.adapter` turns an :class:`authhub.Request` into what
Authlib reads.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6750 import BearerTokenGenerator

from authhub import AuthHub, Response
from authhub_oauth import settings as oauth_settings
from authhub_oauth.adapter import OAuthRequest, authenticate_client_secret_basic
from authhub_oauth.endpoints import TokenIntrospection, TokenRevocation
from authhub_oauth.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant, StrictCodeChallenge
from authhub_oauth.models import AuthorizationCode, OAuthClient, OAuthToken, changed, digest, utcnow

TOKEN_LENGTH = 48  # characters of [A-Za-z0-9]: about 285 bits


class _NoIssuedTokens(logging.Filter):
    """Drop Authlib's debug line that prints every issued token dict (tokens never go to a log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Issue token")


for _grant_module in ("authorization_code", "refresh_token", "client_credentials"):
    logging.getLogger(f"authlib.oauth2.rfc6749.grants.{_grant_module}").addFilter(_NoIssuedTokens())


class OAuthServer(AuthorizationServer):
    """One hub's authorization server."""

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        super().__init__()
        oauth_settings.check(settings)
        self.hub = hub
        self.settings = settings
        self.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: generate_token(TOKEN_LENGTH),
            refresh_token_generator=lambda **_: generate_token(TOKEN_LENGTH),
            expires_generator=lambda client, grant_type: settings["access_token_lifetime"],
        ))
        self.register_grant(AuthorizationCodeGrant, [StrictCodeChallenge(settings["allow_plain_pkce"])])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(TokenRevocation)
        self.register_endpoint(TokenIntrospection)

    # -- what Authlib asks of a framework integration ------------------------------------

    def query_client(self, client_id: str) -> OAuthClient | None:
        with self.hub.store.session() as session:
            return session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))

    def save_token(self, token: dict[str, Any], request: OAuthRequest) -> None:
        now = utcnow()
        parent: OAuthToken | None = request.refresh_token
        code: AuthorizationCode | None = request.authorization_code
        refresh = token.get("refresh_token")
        row = OAuthToken(
            access_token_digest=digest(token["access_token"]),
            refresh_token_digest=digest(refresh) if refresh else None,
            client_id=request.client.client_id,
            user_id=request.user.id if request.user is not None else None,
            scope=token.get("scope", ""),
            family_id=parent.family_id if parent is not None else uuid.uuid4().hex,
            authorization_code_id=code.id if code is not None else (parent.authorization_code_id if parent else None),
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
            refresh_expires_at=now + dt.timedelta(seconds=self.settings["refresh_token_lifetime"]) if refresh else None,
        )
        if request.db_session is not None:
            request.db_session.add(row)
            request.db_session.flush()
        else:
            with self.hub.store.session() as session:
                session.add(row)

    def create_oauth2_request(self, request: Any) -> OAuthRequest:
        if isinstance(request, OAuthRequest):
            return request
        return OAuthRequest(request, from_query=False)

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("authhub-oauth serves no JSON-body endpoint")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict):
            if status >= 400 and "error" in body:
                # authhub's rule: every refusal carries a readable "detail" too.
                body = {**body, "detail": body.get("error_description") or body["error"]}
            return Response(status, list(headers), json.dumps(body, separators=(",", ":")).encode())
        return Response(status, list(headers), (body or "").encode())

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's signals have no listener in authhub."""

    # -- storage helpers the grants share ----------------------------------------------------

    def active_user(self, user_id: Any) -> Any:
        user = self.hub.users.get(user_id)
        return user if user is not None and user.is_active else None

    def revoke_tokens(self, *where: Any) -> int:
        with self.hub.store.session() as session:
            return changed(session.execute(
                sa.update(OAuthToken).where(*where, OAuthToken.revoked_at.is_(None)).values(revoked_at=utcnow())
            ))

    def revoke_family(self, family_id: str) -> int:
        return self.revoke_tokens(OAuthToken.family_id == family_id)

    def revoke_code_tokens(self, code_id: int) -> int:
        return self.revoke_tokens(OAuthToken.authorization_code_id == code_id)

    def issuer(self) -> str | None:
        """The configured issuer (``oauth.issuer``), ``None`` when unset: never taken from a request."""
        issuer = self.settings["issuer"]
        return str(issuer).rstrip("/") if issuer else None


_servers: weakref.WeakKeyDictionary[AuthHub, OAuthServer] = weakref.WeakKeyDictionary()


def server_for(hub: AuthHub) -> OAuthServer:
    """The hub's authorization server, built once."""
    server = _servers.get(hub)
    if server is None:
        server = _servers.setdefault(hub, OAuthServer(hub, hub.settings.section("oauth")))
    return server
