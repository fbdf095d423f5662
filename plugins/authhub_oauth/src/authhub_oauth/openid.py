"""OpenID Connect (Core 1.0) on the authorization code grant: Authlib's ``OpenIDCode`` with authhub's keys.

On when ``oauth.issuer`` is set. A code asked with scope ``openid``
remembers the request's ``nonce`` and when the user signed in; the token
response then carries an ``id_token`` signed (RS256) with the current key:
``iss`` (the configured issuer, never a request header), ``sub``
(:func:`authhub_oauth.tokens.subject`), ``aud`` and ``azp`` (the client id),
``iat``, ``exp``, ``auth_time``, ``nonce`` when one was sent, ``at_hash``;
``preferred_username`` with scope ``profile``.

``prompt=none`` never shows a page: without a session the answer is
``login_required``, with one ``consent_required`` (authhub asks for
consent every time), both sent to the client's redirect URI with its
``state`` (OIDC Core §3.1.2.6).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core import UserInfo
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import Key

from authhub import AuthHub, Request
from authhub_oauth.keys import ID_TOKEN_ALG, SigningKey, SigningKeys
from authhub_oauth.models import AuthorizationCode, utcnow
from authhub_oauth.tokens import subject

#: The scopes this provider understands (the clients' own scopes come on top).
OPENID_SCOPES = ("openid", "profile")
#: The claims an ID token or the userinfo endpoint may carry.
CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "preferred_username")

#: The key an ID token is being signed with: the header's ``kid`` and the signature must agree.
_signing_key: contextvars.ContextVar[SigningKey | None] = contextvars.ContextVar("authhub_oauth_id_token_key",
                                                                                default=None)


def openid_metadata(issuer: str) -> dict[str, Any]:
    """What OpenID Connect Discovery 1.0 §3 adds to the RFC 8414 metadata of ``issuer``."""
    return {
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/oauth/jwks",
        "scopes_supported": list(OPENID_SCOPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
        "claims_supported": list(CLAIMS),
    }


def user_info(user: Any, scope: str) -> UserInfo:
    """The claims about ``user`` that ``scope`` lets a client see (OIDC Core §5.4)."""
    claims = UserInfo(sub=subject(user))
    if "profile" in scope_to_list(scope or ""):
        claims["preferred_username"] = user.username
    return claims


class OpenIDCodeFlow(OpenIDCode):  # type: ignore[misc]
    """Authlib's ``OpenIDCode`` extension, signing with the hub's current RS256 key."""

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any], keys: SigningKeys) -> None:
        super().__init__(require_nonce=False)
        self.hub = hub
        self.keys = keys
        self.issuer = str(settings["issuer"]).rstrip("/")
        self.lifetime: int = settings["id_token_lifetime"]

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """A nonce a client used before is a replayed authentication request (OIDC Core §3.1.2.1)."""
        with self.hub.store.session() as session:
            found = session.scalar(sa.select(AuthorizationCode.id).where(
                AuthorizationCode.client_id == request.payload.client_id, AuthorizationCode.nonce == nonce,
            ).limit(1))
        return found is not None

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        reset = _signing_key.set(self.keys.current(ID_TOKEN_ALG))
        try:
            encoded: str = super().encode_id_token(token, request)
            return encoded
        finally:
            _signing_key.reset(reset)

    def _key(self) -> SigningKey:
        key = _signing_key.get()
        assert key is not None, "only encode_id_token signs"
        return key

    def resolve_client_private_key(self, client: Any) -> Key:
        return self._key().private

    def get_client_algorithm(self, client: Any) -> str:
        return ID_TOKEN_ALG

    def get_encode_header(self, client: Any) -> dict[str, str]:
        return {"alg": ID_TOKEN_ALG, "typ": "JWT", "kid": self._key().kid}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        now = int(time.time())
        client_id = client.get_client_id()
        return {"iss": self.issuer, "aud": client_id, "azp": client_id, "iat": now, "exp": now + self.lifetime}

    def generate_user_info(self, user: Any, scope: str) -> UserInfo:
        return user_info(user, scope)


def wants_openid(grant: Any) -> bool:
    return "openid" in scope_to_list(grant.request.payload.scope or "")


def refuse_silent_consent(grant: Any) -> None:
    """``prompt=none`` from a signed-in user: consent cannot be asked without a page (OIDC Core §3.1.2.6).

    :raises ConsentRequiredError: sent to the client's redirect URI with the request's ``state``.
    """
    if wants_openid(grant) and "none" in (grant.request.payload.data.get("prompt") or "").split():
        error = ConsentRequiredError(redirect_uri=grant.redirect_uri)
        error.state = grant.request.payload.state
        raise error


def authentication_time(request: Request) -> dt.datetime:
    """When the user of ``request`` signed in: its session's start, else now (another consent scheme)."""
    try:
        from authhub_session import current_session
    except ImportError:
        return utcnow()
    session = current_session(request)
    return session.created_at if session is not None else utcnow()
