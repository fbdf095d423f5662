"""What the token endpoint issues: opaque access tokens, or JWT access tokens (RFC 9068).

``oauth.access_token_format`` decides. An opaque token is 48 random
characters, known to the store by its digest only. A JWT access token is
signed with the current key (:mod:`authhub_oauth.keys`) and carries
:func:`access_token_claims`; the store keeps its digest and ``jti`` too, so
introspection, revocation and refresh work the same for both. Refresh
tokens are always opaque.

Authlib's grants call :meth:`TokenIssuer.generate` (the server's token
generator); what depends on the token request, such as a DPoP-bound
token's ``cnf`` (RFC 9449 §6), is added in :func:`access_token_claims`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from joserfc import jwt

from authhub_oauth import dpop
from authhub_oauth.keys import ID_TOKEN_ALG, SigningKeys

TOKEN_LENGTH = 48  # characters of [A-Za-z0-9]: about 285 bits
#: RFC 9068 §2.1: the ``typ`` header of a JWT access token.
JWT_ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret


def subject(user: Any) -> str:
    """A user's ``sub`` in ID tokens, userinfo and JWT access tokens: the user store's id, as text.

    Stable for as long as the user exists, never shared by two users, and
    what ``hub.users.get`` finds the user by (any store, integer or string ids).
    """
    return str(user.id)


def access_token_claims(*, issuer: str, audience: str, client_id: str, user: Any, scope: str,
                        issued_at: int, lifetime: int) -> dict[str, Any]:
    """The claims of a JWT access token (RFC 9068 §2.2); the one place they are made.

    ``sub`` is the user (:func:`subject`), or the client itself for a
    client-credentials token. Claims that depend on the token request
    being served go here too: RFC 9449's ``cnf.jkt`` of a DPoP-bound token.
    """
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject(user) if user is not None else client_id,
        "aud": audience,
        "client_id": client_id,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "jti": secrets.token_urlsafe(24),
    }
    if scope:
        claims["scope"] = scope
    jkt = dpop.bound_key()
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}  # RFC 9449 §6.1: bound to the key of the token request's DPoP proof
    return claims


class TokenIssuer:
    """One hub's access tokens, in the format ``access_token_format`` names, and its refresh tokens."""

    def __init__(self, settings: Mapping[str, Any], keys: SigningKeys) -> None:
        self.keys = keys
        self.format: str = settings["access_token_format"]
        self.lifetime: int = settings["access_token_lifetime"]
        self.alg: str = settings["access_token_signing_alg"]
        issuer = settings["issuer"]
        self.issuer: str | None = str(issuer).rstrip("/") if issuer else None
        self.audience: str | None = settings["access_token_audience"] or self.issuer

    @property
    def signs(self) -> bool:
        """Whether access tokens are JWTs signed here."""
        return self.format == "jwt"

    def algorithms(self) -> list[str]:
        """The algorithms this server signs with: ID tokens' (with an issuer), and JWT access tokens'."""
        needed = [ID_TOKEN_ALG] if self.issuer is not None else []
        if self.signs:
            needed.append(self.alg)
        return list(dict.fromkeys(needed))

    def prepare(self) -> None:
        """Make sure the signing keys exist before a transaction needs them (one is made on first use)."""
        for alg in self.algorithms():
            self.keys.current(alg)

    def generate(self, *, grant_type: str, client: Any, user: Any = None, scope: str | None = None,
                 include_refresh_token: bool = True, **_: Any) -> dict[str, Any]:
        """The token response's fields (RFC 6749 §5.1) for ``client`` and ``user``, as Authlib's generators give.

        :raises InvalidScopeError: ``scope`` is not the client's (no scope asked: all the client's).
        """
        scope = BearerTokenGenerator.get_allowed_scope(client, scope)
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": self.access_token(client.get_client_id(), user, scope or ""),
            "expires_in": self.lifetime,
        }
        if include_refresh_token:
            token["refresh_token"] = generate_token(TOKEN_LENGTH)
        if scope:
            token["scope"] = scope
        return token

    def access_token(self, client_id: str, user: Any, scope: str) -> str:
        """A new access token: random, or a JWT signed with the current key."""
        if not self.signs:
            token: str = generate_token(TOKEN_LENGTH)
            return token
        assert self.issuer is not None and self.audience is not None  # the settings check made sure
        key = self.keys.current(self.alg)
        claims = access_token_claims(issuer=self.issuer, audience=self.audience, client_id=client_id, user=user,
                                     scope=scope, issued_at=int(time.time()), lifetime=self.lifetime)
        header = {"alg": key.alg, "typ": JWT_ACCESS_TOKEN_TYPE, "kid": key.kid}
        return jwt.encode(header, claims, key.private, algorithms=[key.alg])


def jwt_id(access_token: str) -> str | None:
    """The ``jti`` of a JWT access token issued here (read without verifying: it was just made); ``None`` otherwise."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) else None
