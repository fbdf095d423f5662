"""The authorization server: Authlib's ``AuthorizationServer`` on authhub's requests and store.

Authlib runs the protocol; :mod:`authhub_oauth.grants` and
:mod:`authhub_oauth.endpoints` supply storage and the stricter rules, and
:mod:`authhub_oauth.adapter` turns an :class:`authhub.Request` into what
Authlib reads. One hub's :class:`authhub_oauth.OAuthScheme` owns one server.

Access tokens are opaque or JWTs (:mod:`authhub_oauth.tokens`); with an
issuer configured the code grant is OpenID Connect's too
(:mod:`authhub_oauth.openid`). Both sign with the hub's keys
(:mod:`authhub_oauth.keys`).

Every revocation is announced on the hub's invalidation channel once it is
committed: ``("oauth-token", <access token digest>)`` for each token it
ended, and ``("oauth-jti", <jti>)`` for each JWT among them (which also
joins the revocation list, :mod:`authhub_oauth.revocations`);
``("oauth-client", <client_id>)`` for a deleted client.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from authlib.oauth2 import AuthorizationServer

from authhub import AuthHub, Response
from authhub_oauth import dpop
from authhub_oauth.adapter import OAuthRequest, authenticate_client_secret_basic
from authhub_oauth.endpoints import TokenIntrospection, TokenRevocation
from authhub_oauth.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant, StrictCodeChallenge
from authhub_oauth.keys import SigningKeys
from authhub_oauth.models import AuthorizationCode, OAuthClient, OAuthToken, digest, utcnow
from authhub_oauth.openid import OpenIDCodeFlow
from authhub_oauth.revocations import REVOKED_JWT_KIND, RevokedJWTs
from authhub_oauth.tokens import TokenIssuer, jwt_id

#: What :meth:`OAuthServer.revoke_tokens` announces for each token it ends (key: the access token's digest).
REVOKED_KIND = "oauth-token"
#: What :meth:`OAuthServer.delete_client` announces (key: the client_id).
DELETED_KIND = "oauth-client"


class _NoIssuedTokens(logging.Filter):
    """Drop Authlib's debug line that prints every issued token dict (tokens never go to a log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Issue token")


for _grant_module in ("authorization_code", "refresh_token", "client_credentials"):
    logging.getLogger(f"authlib.oauth2.rfc6749.grants.{_grant_module}").addFilter(_NoIssuedTokens())


class OAuthServer(AuthorizationServer):  # type: ignore[misc]
    """One hub's authorization server (its settings checked by the scheme)."""

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        super().__init__()
        self.hub = hub
        self.settings = settings
        #: DPoP proofs' checks at the token endpoint (the scheme hands in its resource server's); ``None``: off.
        self.dpop_proofs: dpop.ProofChecker | None = None
        #: The keys JWT access tokens and ID tokens are signed with.
        self.keys = SigningKeys(hub, settings)
        #: The JWT access tokens revoked before they expire.
        self.revoked_jwts = RevokedJWTs(hub, settings)
        #: Opaque or JWT access tokens, as ``access_token_format`` says.
        self.tokens = TokenIssuer(settings, self.keys)
        self.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
        self.register_token_generator("default", self.tokens.generate)
        code_extensions: list[Any] = [StrictCodeChallenge(settings["allow_plain_pkce"])]
        if settings["issuer"]:
            # OpenID Connect is on with an issuer: the configured one, never a request's Host.
            code_extensions.append(OpenIDCodeFlow(hub, settings, self.keys))
        self.register_grant(AuthorizationCodeGrant, code_extensions)
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
        jkt = dpop.bound_key()  # the DPoP key of this token request (RFC 9449 §5), None for bearer tokens
        if jkt is not None:
            token["token_type"] = dpop.TOKEN_TYPE
        row = OAuthToken(
            access_token_digest=digest(token["access_token"]),
            refresh_token_digest=digest(refresh) if refresh else None,
            client_id=request.client.client_id,
            user_id=str(request.user.id) if request.user is not None else None,
            scope=token.get("scope", ""),
            family_id=parent.family_id if parent is not None else uuid.uuid4().hex,
            authorization_code_id=code.id if code is not None else (parent.authorization_code_id if parent else None),
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
            refresh_expires_at=now + dt.timedelta(seconds=self.settings["refresh_token_lifetime"]) if refresh else None,
            dpop_jkt=jkt,
            jti=jwt_id(token["access_token"]),
        )
        if request.db_session is not None:
            request.db_session.add(row)
            request.db_session.flush()
        else:
            with self.hub.store.session() as session:
                session.add(row)

    def create_token_response(self, request: Any = None) -> Response:
        # A signing key made on first use is written outside the grant's transaction (SQLite has one writer).
        self.tokens.prepare()
        response: Response = super().create_token_response(request)
        return response

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
        """Revoke the live tokens matching ``where``, announce each; how many there were."""
        with self.hub.store.session() as session:
            revoked = session.execute(
                sa.update(OAuthToken)
                .where(*where, OAuthToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .returning(OAuthToken.access_token_digest, OAuthToken.jti, OAuthToken.expires_at)
                .execution_options(synchronize_session=False)
            ).all()
            jwts = [(jti, expires_at) for _, jti, expires_at in revoked if jti is not None]
            self.revoked_jwts.record(session, jwts)
        self._announce_revoked([token_digest for token_digest, _, _ in revoked], [jti for jti, _ in jwts])
        return len(revoked)

    def _announce_revoked(self, digests: Iterable[str], jtis: Iterable[str]) -> None:
        # After the commit: a cache refilled in between would hold the old answer.
        for token_digest in digests:
            self.hub.invalidate(REVOKED_KIND, token_digest)
        for jti in jtis:
            self.hub.invalidate(REVOKED_JWT_KIND, jti)

    def revoke_family(self, family_id: str) -> int:
        return self.revoke_tokens(OAuthToken.family_id == family_id)

    def revoke_code_tokens(self, code_id: int) -> int:
        return self.revoke_tokens(OAuthToken.authorization_code_id == code_id)

    def revoke_user_tokens(self, user_id: str) -> int:
        return self.revoke_tokens(OAuthToken.user_id == user_id)

    def delete_client(self, client_id: str) -> bool:
        """Delete a client with its codes and tokens; whether it existed. Announced once committed."""
        with self.hub.store.session() as session:
            row = session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))
            if row is None:
                return False
            # Its JWT access tokens verify without their rows: they join the revocation list first.
            rows = session.execute(sa.select(OAuthToken.jti, OAuthToken.expires_at).where(
                OAuthToken.client_id == client_id, OAuthToken.jti.is_not(None), OAuthToken.revoked_at.is_(None),
            )).all()
            jwts = [(jti, expires_at) for jti, expires_at in rows if jti is not None]
            self.revoked_jwts.record(session, jwts)
            # Delete explicitly too: not every database enforces ON DELETE CASCADE the same way.
            session.execute(sa.delete(OAuthToken).where(OAuthToken.client_id == client_id))
            session.execute(sa.delete(AuthorizationCode).where(AuthorizationCode.client_id == client_id))
            session.delete(row)
        self.hub.invalidate(DELETED_KIND, client_id)
        self._announce_revoked((), [jti for jti, _ in jwts])
        return True

    def issue_token(self, client_id: str, user: Any, scopes: Iterable[str] = ()) -> str:
        """Issue an access token for ``user`` (``None``: the client itself) directly, no grant; return it."""
        self.tokens.prepare()
        scope = " ".join(scopes)
        token = self.tokens.access_token(client_id, user, scope)
        now = utcnow()
        with self.hub.store.session() as session:
            session.add(OAuthToken(
                access_token_digest=digest(token), client_id=client_id,
                user_id=str(user.id) if user is not None else None, scope=scope,
                family_id=secrets.token_hex(16), issued_at=now,
                expires_at=now + dt.timedelta(seconds=self.settings["access_token_lifetime"]),
                jti=jwt_id(token),
            ))
        return token

    def ensure_client(self, client_id: str, name: str) -> None:
        """Register ``client_id`` with no secret, grant or redirect URI unless it exists (the tests' client)."""
        with self.hub.store.session() as session:
            if session.scalar(sa.select(OAuthClient.id).where(OAuthClient.client_id == client_id)) is None:
                session.add(OAuthClient(client_id=client_id, client_secret_digest=None, name=name,
                                        grant_types="", redirect_uris="", scope=""))

    def issuer(self) -> str | None:
        """The configured issuer (``oauth.issuer``), ``None`` when unset: never taken from a request."""
        issuer = self.settings["issuer"]
        return str(issuer).rstrip("/") if issuer else None
