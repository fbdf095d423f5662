"""The grants, stricter than Authlib's defaults.

* PKCE: ``S256`` only (``plain`` behind ``allow_plain_pkce``), and required
  of public clients at the authorization endpoint already.
* Codes are redeemed atomically: a conditional ``UPDATE`` claims the code in
  the same transaction that stores the tokens, so of any number of
  parallel redemptions exactly one succeeds; a second use of a code
  revokes every token it produced.
* Refresh tokens rotate: each use issues a new one, and presenting a
  rotated refresh token again revokes its whole family.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge

from authhub_oauth.adapter import OAuthRequest
from authhub_oauth.dpop import check_refresh
from authhub_oauth.models import AuthorizationCode, OAuthClient, OAuthToken, changed, digest, utcnow
from authhub_oauth.openid import authentication_time

if TYPE_CHECKING:
    from authhub_oauth.server import OAuthServer


class StrictCodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE, S256 only unless ``plain`` is allowed, and required of public clients."""

    def __init__(self, allow_plain: bool) -> None:
        super().__init__(required=True)
        self.allow_plain = allow_plain
        self.SUPPORTED_CODE_CHALLENGE_METHOD = ["S256", "plain"] if allow_plain else ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if not data.get("code_challenge") and grant.request.client.is_public:
            raise InvalidRequestError("PKCE is required: send a 'code_challenge' (S256).")
        if data.get("code_challenge") and not data.get("code_challenge_method") and not self.allow_plain:
            # A missing method means 'plain' (RFC 7636 §4.3), which is refused.
            raise InvalidRequestError("Unsupported 'code_challenge_method': use S256.")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    server: OAuthServer

    def save_authorization_code(self, code: str, request: OAuthRequest) -> None:
        data = request.payload.data
        lifetime = dt.timedelta(seconds=self.server.settings["code_lifetime"])
        with self.server.hub.store.session() as session:
            session.add(AuthorizationCode(
                code_digest=digest(code),
                client_id=request.client.client_id,
                user_id=str(request.user.id),
                redirect_uri=data.get("redirect_uri") or "",
                scope=request.scope or "",
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                expires_at=utcnow() + lifetime,
                # OpenID Connect: repeated in the ID token (unused without scope openid).
                nonce=data.get("nonce") or None,
                auth_time=authentication_time(request.hub_request),
            ))

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        with self.server.hub.store.session() as session:
            row: AuthorizationCode | None = session.scalar(
                sa.select(AuthorizationCode).where(AuthorizationCode.code_digest == digest(code))
            )
        if row is None or row.client_id != client.client_id:
            return None
        if row.used_at is not None:
            self.server.revoke_code_tokens(row.id)
            return None
        if row.is_expired():
            return None
        return row

    def create_token_response(self) -> Any:
        code: AuthorizationCode = self.request.authorization_code
        with self.server.hub.store.session() as session:
            claimed = changed(session.execute(
                sa.update(AuthorizationCode)
                .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_(None))
                .values(used_at=utcnow())
            ))
            if claimed == 1:
                self.request.db_session = session
                try:
                    return super().create_token_response()
                finally:
                    self.request.db_session = None
        # Someone redeemed it first: this is a second use (RFC 6749 §4.1.2).
        self.server.revoke_code_tokens(code.id)
        raise InvalidGrantError("The authorization code was already used.")

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Keep the used code: a second use must find it to revoke what it issued."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Any:
        return self.server.active_user(authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: OAuthServer

    def authenticate_refresh_token(self, refresh_token: str) -> OAuthToken | None:
        with self.server.hub.store.session() as session:
            row: OAuthToken | None = session.scalar(
                sa.select(OAuthToken).where(OAuthToken.refresh_token_digest == digest(refresh_token))
            )
        if row is None:
            return None
        if row.refresh_used_at is not None:
            # A rotated refresh token came back: it leaked. End the whole grant.
            self.server.revoke_family(row.family_id)
            return None
        if row.is_revoked() or row.is_refresh_expired():
            return None
        check_refresh(row.dpop_jkt, public_client=self.request.client.is_public)  # RFC 9449 §5
        return row

    def authenticate_user(self, refresh_token: OAuthToken) -> Any:
        if refresh_token.user_id is None:
            return None
        user = self.server.active_user(refresh_token.user_id)
        if user is None:
            raise InvalidGrantError("The user of this grant is inactive or deleted.")
        return user

    def create_token_response(self) -> Any:
        old: OAuthToken = self.request.refresh_token
        with self.server.hub.store.session() as session:
            claimed = changed(session.execute(
                sa.update(OAuthToken)
                .where(OAuthToken.id == old.id, OAuthToken.refresh_used_at.is_(None), OAuthToken.revoked_at.is_(None))
                .values(refresh_used_at=utcnow())
            ))
            if claimed == 1:
                self.request.db_session = session
                try:
                    return super().create_token_response()
                finally:
                    self.request.db_session = None
        self.server.revoke_family(old.family_id)
        raise InvalidGrantError("The refresh token was already used.")

    def revoke_old_credential(self, refresh_token: OAuthToken) -> None:
        """Already done: the old refresh token was claimed before the new one was issued."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
