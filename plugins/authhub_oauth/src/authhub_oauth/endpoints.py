"""Token revocation (RFC 7009) and introspection (RFC 7662) on the stored tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from authhub_oauth.adapter import OAuthRequest
from authhub_oauth.dpop import TOKEN_TYPE
from authhub_oauth.models import OAuthClient, OAuthToken, aware, digest

if TYPE_CHECKING:
    from authhub_oauth.server import OAuthServer


class _Found:
    """A token row and which of its two tokens was presented."""

    def __init__(self, row: OAuthToken, kind: str) -> None:
        self.row = row
        self.kind = kind

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.check_client(client)

    def is_expired(self) -> bool:
        return self.row.is_refresh_expired() if self.kind == "refresh_token" else self.row.is_expired()

    def is_revoked(self) -> bool:
        if self.kind == "refresh_token" and self.row.refresh_used_at is not None:
            return True
        return self.row.is_revoked()


def _find_token(server: OAuthServer, token: str, hint: str | None) -> _Found | None:
    columns = {"access_token": OAuthToken.access_token_digest, "refresh_token": OAuthToken.refresh_token_digest}
    order = [hint] if hint in columns else []
    order += [kind for kind in columns if kind not in order]
    with server.hub.store.session() as session:
        for kind in order:
            row = session.scalar(sa.select(OAuthToken).where(columns[kind] == digest(token)))
            if row is not None:
                return _Found(row, kind)
    return None


#: The ``token_type_hint`` values this server knows (RFC 7009 §2.1, RFC 7662 §2.1).
TOKEN_TYPE_HINTS = ("access_token", "refresh_token")


class UnsupportedTokenType(OAuth2Error):  # type: ignore[misc]
    """RFC 7009 §2.2.1: a ``token_type_hint`` this server does not know is a 400, not a client failure."""

    error = "unsupported_token_type"
    status_code = 400


def _check_params(request: OAuthRequest) -> None:
    if "token" not in request.form:
        raise InvalidRequestError("The 'token' parameter is required.")
    hint = request.form.get("token_type_hint")
    if hint and hint not in TOKEN_TYPE_HINTS:
        raise UnsupportedTokenType(f"Unsupported token_type_hint; use one of {', '.join(TOKEN_TYPE_HINTS)}.")


class TokenRevocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    server: OAuthServer

    def check_params(self, request: OAuthRequest, client: OAuthClient) -> None:
        _check_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Found | None:
        return _find_token(self.server, token_string, token_type_hint)

    def revoke_token(self, token: _Found, request: OAuthRequest) -> None:
        # Revoking a refresh token ends its grant (RFC 7009 §2.1); an access token ends alone.
        if token.kind == "refresh_token":
            self.server.revoke_family(token.row.family_id)
        else:
            self.server.revoke_tokens(OAuthToken.id == token.row.id)


class TokenIntrospection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    server: OAuthServer

    def check_params(self, request: OAuthRequest, client: OAuthClient) -> None:
        _check_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Found | None:
        return _find_token(self.server, token_string, token_type_hint)

    def check_permission(self, token: _Found, client: OAuthClient, request: OAuthRequest) -> bool:
        """A client may introspect its own tokens; a resource server (``may_introspect``) any."""
        return bool(client.may_introspect) or token.check_client(client)

    def introspect_token(self, token: _Found) -> dict[str, Any]:
        row = token.row
        user = self.server.active_user(row.user_id) if row.user_id is not None else None
        if row.user_id is not None and user is None:
            return {"active": False}
        expires_at = aware(row.refresh_expires_at if token.kind == "refresh_token" else row.expires_at)
        issued_at = aware(row.issued_at)
        assert expires_at is not None and issued_at is not None
        payload: dict[str, Any] = {
            "active": True,
            "client_id": row.client_id,
            "scope": row.scope,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "exp": int(expires_at.timestamp()),
            "iat": int(issued_at.timestamp()),
        }
        if self.server.settings["issuer"]:
            payload["iss"] = self.server.settings["issuer"]
        if row.dpop_jkt is not None:
            # RFC 9449 §6.2: the key the token is bound to, so a resource server can check proofs.
            payload["cnf"] = {"jkt": row.dpop_jkt}
            if token.kind == "access_token":
                payload["token_type"] = TOKEN_TYPE
        if user is not None:
            payload["username"] = user.username
            payload["sub"] = str(user.id)
        else:
            payload["sub"] = row.client_id
        return payload
