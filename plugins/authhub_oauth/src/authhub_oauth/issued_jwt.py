"""JWT access tokens this server issued, checked by its own resource server without the token table.

The signature is checked against the hub's published keys
(:mod:`authhub_oauth.keys`), then ``typ`` (``at+jwt``), ``iss`` (the
configured issuer), ``aud`` (``access_token_audience``, default the
issuer), ``exp``, ``iat``, ``sub``, ``client_id`` and ``jti``; a ``jti`` on
the revocation list (:mod:`authhub_oauth.revocations`) is refused. The
user comes from the hub's user store by ``sub`` on every check, so a user
deactivated anywhere is refused at once.

It has the three methods :class:`authhub_oauth.resource.BearerResource`
calls on a validator: ``authenticate_token``, ``validate_token`` and
``identity``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6750 import InvalidTokenError
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidKeyIdError, JoseError

from authhub import AuthHub
from authhub_oauth.identity import AccessToken, ClientPrincipal
from authhub_oauth.keys import SigningKeys
from authhub_oauth.revocations import RevokedJWTs
from authhub_oauth.settings import SIGNING_ALGORITHMS
from authhub_oauth.tokens import JWT_ACCESS_TOKEN_TYPE
from authhub_oauth.validators import _bound_key

REVOKED = "The access token was revoked."
INACTIVE_USER = "The token's user is inactive or deleted."
#: Seconds of clock difference allowed on ``exp`` and ``iat``: the processes sharing the store may run on
#: several machines, and a token issued on one at 10.000 s can reach another whose clock says 9.990 s.
LEEWAY = 5


def looks_like_jwt(token: str) -> bool:
    """Whether ``token`` has the form of a JWS (three parts); opaque tokens issued here never have a dot."""
    return token.count(".") == 2


class IssuedJWTValidator:
    """One hub's check of the JWT access tokens it issued (see the module doc)."""

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any], keys: SigningKeys, revoked: RevokedJWTs) -> None:
        self.hub = hub
        self.keys = keys
        self.revoked = revoked
        issuer = settings["issuer"]
        self.issuer: str | None = str(issuer).rstrip("/") if issuer else None
        audience = str(settings["access_token_audience"] or self.issuer)
        #: The registered claims checked; ``None`` without an issuer (no JWT was ever issued here).
        self.claims = None if self.issuer is None else jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True}, iat={"essential": True}, sub={"essential": True},
            client_id={"essential": True}, jti={"essential": True},
        )

    def authenticate_token(self, token_string: str) -> dict[str, Any]:
        """The token's claims once its signature, ``typ`` and registered claims are right."""
        if self.claims is None:
            raise InvalidTokenError("The access token is unknown.")  # no JWT was ever issued here
        try:
            header = jws.extract_compact(token_string.encode("ascii")).headers()
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in (JWT_ACCESS_TOKEN_TYPE, "application/at+jwt"):
                # An ID token is signed with the same keys, and is not an access token (RFC 9068 §4).
                raise InvalidTokenError("The token is not an access token: its 'typ' must be 'at+jwt'.")
            kid = header.get("kid")
            keys = self.keys.key_set(kid if isinstance(kid, str) else None)
            token = jwt.decode(token_string, keys, algorithms=list(SIGNING_ALGORITHMS))
            self.claims.validate(token.claims)
        except ExpiredTokenError:
            raise InvalidTokenError("The access token expired.") from None
        except InvalidKeyIdError:
            raise InvalidTokenError("The access token was signed with a key this server does not publish.") from None
        except BadSignatureError:
            raise InvalidTokenError("The access token's signature is invalid.") from None
        except (JoseError, ValueError) as error:
            claim = getattr(error, "claim", None)
            raise InvalidTokenError(f"The access token's '{claim}' claim is missing or invalid." if claim
                                    else "The access token is not a valid JWT of this server.") from None
        return dict(token.claims)

    def validate_token(self, claims: Mapping[str, Any], scopes: Any, request: Any) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or self.revoked.is_revoked(jti):
            raise InvalidTokenError(REVOKED)

    def identity(self, claims: Mapping[str, Any]) -> tuple[Any, AccessToken]:
        client_id = str(claims["client_id"])
        sub = str(claims["sub"])
        user = None
        if sub != client_id:  # RFC 9068 §2.2: a client acting for itself is its own subject
            user = self.hub.users.get(sub)
            if user is None or not user.is_active:
                raise InvalidTokenError(INACTIVE_USER)
        scope = claims.get("scope")
        auth = AccessToken(
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            client_id=client_id, expires_at=dt.datetime.fromtimestamp(int(claims["exp"]), dt.timezone.utc),
            user=user, source="jwt", jti=str(claims["jti"]),
            jkt=_bound_key(claims.get("cnf")),  # a DPoP-bound token (RFC 9449 §6): the resource server checks it
        )
        return (user if user is not None else ClientPrincipal(client_id)), auth
