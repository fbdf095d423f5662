"""The three places a bearer token can be checked, each an Authlib token validator.

* :class:`OpaqueTokenValidator` - tokens this server issued, found by digest.
* :class:`JWTTokenValidator` - RFC 9068 JWT access tokens of an external
  issuer, verified against its JWKS (a file, a URL, or found through the
  issuer's metadata: :mod:`authhub_oauth.jwks`) with an algorithm allow-list.
* :class:`IntrospectionValidator` - RFC 7662 introspection of a remote
  authorization server, with a short, bounded cache (:class:`authhub.TTLCache`).

Authlib does the protocol work (signature, claims, ``active``); each class
adds what Authlib leaves to the application: where keys and rows come
from, and who the token's user is (:meth:`identity`), always through the
hub's user store (``hub.users``), and the DPoP key a token is bound to
(``AccessToken.jkt``, from ``cnf.jkt`` or the token's row). Each validator
belongs to one hub's :class:`authhub_oauth.OAuthScheme`, which closes its
HTTP client.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import httpx
import sqlalchemy as sa
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from authlib.oauth2.rfc7662 import IntrospectTokenValidator
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc import jws
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from authhub import AuthHub, PreparedRead, SQLUserStore, StoreUnavailable, TTLCache, User
from authhub_oauth.identity import AccessToken, ClientPrincipal
from authhub_oauth.jwks import DiscoveredKeys, FileKeys, KeySource, URLKeys
from authhub_oauth.models import OAuthToken, aware, digest

INACTIVE_USER = "The token's user is inactive or deleted."
UNKNOWN_SUBJECT = "The token's subject is not a user of this service."


def _scopes(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, (list, tuple)):
        return frozenset(str(item) for item in value)
    return frozenset()


def _timestamp(value: Any, claim: str = "exp") -> dt.datetime | None:
    """A NumericDate claim as a datetime; ``None`` when absent.

    :raises InvalidTokenError: a value no datetime can hold (``1e20``, ``NaN``, a string).
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.timezone.utc)
        except (OverflowError, ValueError, OSError):
            pass
    raise InvalidTokenError(f"The access token's '{claim}' claim is missing or invalid.")


#: RFC 7662 §2.2 ``token_type`` values (RFC 6749 §7.1 types) that name an access token.
ACCESS_TOKEN_TYPES = frozenset({"bearer", "dpop", "access_token"})
#: RFC 9068 §4: the ``typ`` header of a JWT access token.
JWT_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


def _subject(hub: AuthHub, username: str | None, client_id: str | None) -> tuple[Any, Any]:
    """``(request.user, token user)`` for a token naming ``username`` on behalf of ``client_id``."""
    if username:
        user = hub.users.get_by_username(username)
        if user is not None:
            if not user.is_active:
                raise InvalidTokenError(INACTIVE_USER)
            return user, user
        if username != client_id:
            raise InvalidTokenError(UNKNOWN_SUBJECT)
    if not client_id:
        raise InvalidTokenError(UNKNOWN_SUBJECT)
    return ClientPrincipal(client_id), None


def _bound_key(confirmation: Any) -> str | None:
    """The DPoP key thumbprint of a ``cnf`` claim (RFC 9449 §6); ``None`` for a bearer token.

    :raises InvalidTokenError: a token bound some other way (an mTLS certificate, RFC 8705),
        which this server cannot check: refused rather than taken as a bearer token.
    """
    if confirmation is None:
        return None
    if isinstance(confirmation, dict) and isinstance(confirmation.get("jkt"), str) and confirmation["jkt"]:
        return str(confirmation["jkt"])
    raise InvalidTokenError("The access token is bound to a key in a way this server cannot check.")


# -- opaque tokens issued here ------------------------------------------------------


@attrs.frozen
class IssuedToken:
    """An access token row as the request path reads it, with its user when one query brought it.

    ``user`` is the user read with the row (the built-in store's join), ``None``
    when the query did not bring one. Provides the part of Authlib's
    ``TokenMixin`` that bearer validation uses.
    """

    client_id: str
    user_id: str | None
    scope: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    user: User | None = None
    #: The DPoP key the token is bound to (its thumbprint), ``None`` for a bearer token.
    dpop_jkt: str | None = None

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return self.expires_at <= dt.datetime.now(dt.timezone.utc)

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class OpaqueTokenValidator(BearerTokenValidator):  # type: ignore[misc]
    """Access tokens issued by this authorization server, looked up by digest.

    The lookup is one prepared query (:meth:`authhub.Store.prepare`). With
    the built-in user store it also brings the token's user (a join on
    :attr:`authhub.SQLUserStore.table`); with any other store the user is
    asked of ``hub.users`` afterwards.
    """

    def __init__(self, hub: AuthHub, realm: str) -> None:
        super().__init__(realm=realm)
        self.hub = hub

    @functools.cached_property
    def _joined(self) -> bool:
        """Whether the user comes with the row (decided once: a hub never changes)."""
        return isinstance(self.hub.users, SQLUserStore)

    @functools.cached_property
    def _lookup(self) -> PreparedRead:
        # Prepared on first use, not when the hub is built: the user store may
        # need its database, and building a hub must not.
        tokens = OAuthToken.__table__
        columns = [tokens.c.client_id, tokens.c.user_id, tokens.c.scope, tokens.c.expires_at, tokens.c.revoked_at,
                   tokens.c.dpop_jkt]
        if not self._joined:
            return self.hub.store.prepare(
                sa.select(*columns).where(tokens.c.access_token_digest == sa.bindparam("digest"))
            )
        users = SQLUserStore.table
        return self.hub.store.prepare(
            sa.select(*columns, users.c.id, users.c.username, users.c.is_active)
            # The cast keeps the user's primary-key index usable.
            .select_from(tokens.outerjoin(users, users.c.id == sa.cast(tokens.c.user_id, sa.Integer)))
            .where(tokens.c.access_token_digest == sa.bindparam("digest"))
        )

    def authenticate_token(self, token_string: str) -> IssuedToken | None:
        row = self._lookup.fetch_one(digest=digest(token_string))
        if row is None:
            return None
        client_id, user_id, scope, expires_at, revoked_at, dpop_jkt = row[:6]
        expiry = aware(expires_at)
        assert expiry is not None
        user = _joined_user(row[6:]) if self._joined else None
        return IssuedToken(client_id, user_id, scope or "", expiry, revoked_at, user, dpop_jkt)

    def validate_token(self, token: IssuedToken | None, scopes: Any, request: Any) -> None:
        # Authlib's checks, each with its own description for the client.
        if token is None:
            raise InvalidTokenError("The access token is unknown.")
        if token.is_revoked():
            raise InvalidTokenError("The access token was revoked.")
        if token.is_expired():
            raise InvalidTokenError("The access token expired.")
        super().validate_token(token, scopes, request)

    def identity(self, token: IssuedToken) -> tuple[Any, AccessToken]:
        user = None
        if token.user_id is not None:
            # The built-in store's join brought the user already; any other store is asked
            # on every request, so a user it deactivated is refused at once.
            user = token.user if self._joined else self.hub.users.get(token.user_id)
            if user is None or not user.is_active:
                raise InvalidTokenError(INACTIVE_USER)
        auth = AccessToken(
            scopes=_scopes(token.scope), client_id=token.client_id, expires_at=token.expires_at,
            user=user, source="opaque", jkt=token.dpop_jkt,
        )
        return (user if user is not None else ClientPrincipal(token.client_id)), auth


def _joined_user(columns: Sequence[Any]) -> User | None:
    """The user of the built-in table from a row's joined columns, ``None`` when none matched."""
    user_id, username, is_active = columns
    return None if user_id is None else User(user_id, username, bool(is_active))


# -- JWT access tokens (RFC 9068) -----------------------------------------------------


def _http_client(settings: Mapping[str, Any]) -> httpx.Client:
    """The client a validator talks to the issuer with; the scheme closes it with the hub."""
    return httpx.Client(timeout=settings["http_timeout"], follow_redirects=False)


class JWTTokenValidator(JWTBearerTokenValidator):  # type: ignore[misc]
    """RFC 9068 JWT access tokens: ``iss``, ``aud``, ``exp`` and the signature, by Authlib.

    Added here: the ``alg`` allow-list (checked before any key is used, so
    ``none`` and HMAC-with-a-public-key never reach verification) and one
    JWKS refresh when the token names a key we do not have.
    """

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        super().__init__(settings["jwt_issuer"], settings["jwt_audience"], realm=settings["realm"])
        self.hub = hub
        self.algorithms = frozenset(settings["jwt_algorithms"])
        location: str | None = settings["jwks"]
        self.http = _http_client(settings) if not location or location.startswith(("https://", "http://")) else None
        loader: FileKeys | URLKeys | DiscoveredKeys
        if not location:
            assert self.http is not None
            loader = DiscoveredKeys(self.http, settings["jwt_issuer"])
        elif self.http is not None:
            loader = URLKeys(self.http, location)
        else:
            loader = FileKeys(location)
        self.keys = KeySource(loader, max_age=settings["jwks_cache_seconds"],
                              min_refresh=settings["jwks_min_refresh_seconds"])

    def close(self) -> None:
        if self.http is not None:
            self.http.close()

    def get_jwks(self) -> KeySet:
        return self.keys.key_set()

    def authenticate_token(self, token_string: str) -> Any:
        try:
            header = jws.extract_compact(token_string.encode("ascii")).headers()
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError("The access token is not a valid JWT.") from exc
        if header.get("alg") not in self.algorithms:
            raise InvalidTokenError("The access token's signature algorithm is not accepted.")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in JWT_ACCESS_TOKEN_TYPES:
            # An ID token or a refresh token of the same issuer is not an access token (RFC 9068 §4).
            raise InvalidTokenError("The token is not a JWT access token: its 'typ' must be 'at+jwt'.")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidTokenError("The access token is not a valid JWT.")
        # Fetches the keys again (rate-limited) when they lack this kid; get_jwks then
        # hands Authlib the published key set, and joserfc checks against that kid's key only.
        self.keys.prepare(kid)
        try:
            return super().authenticate_token(token_string)
        except InvalidTokenError as error:
            raise InvalidTokenError(_jwt_problem(error.__cause__)) from error

    def validate_token(self, token: Any, scopes: Any, request: Any, **kwargs: Any) -> None:
        try:
            super().validate_token(token, scopes, request, **kwargs)
        except InvalidTokenError as error:
            raise InvalidTokenError(_jwt_problem(error.__cause__)) from error

    def identity(self, claims: Mapping[str, Any]) -> tuple[Any, AccessToken]:
        client_id = claims.get("client_id")
        expires_at = _timestamp(claims.get("exp"))
        request_user, user = _subject(self.hub, claims.get("sub"), client_id)
        auth = AccessToken(scopes=_scopes(claims.get("scope")), client_id=client_id,
                           expires_at=expires_at, user=user, source="jwt", jkt=_bound_key(claims.get("cnf")))
        return request_user, auth


def _jwt_problem(cause: BaseException | None) -> str:
    """A short description of why a JWT was refused, safe to show the client."""
    if isinstance(cause, InvalidKeyIdError):
        return "The access token was signed with an unknown key."
    if isinstance(cause, JoseError):
        claim = getattr(cause, "claim", None)
        if cause.error == "expired_token":
            return "The access token expired."
        if claim in ("iss", "aud"):
            return f"The access token's '{claim}' claim is not accepted."
        if claim:
            return f"The access token's '{claim}' claim is missing or invalid."
        if cause.error == "bad_signature":
            return "The access token's signature is invalid."
    return "The access token is not a valid JWT."


# -- remote introspection (RFC 7662) --------------------------------------------------


@attrs.frozen
class Introspected:
    """A kept introspection answer, with what invalidations are matched against."""

    #: The token's digest (the cache's key), never the token.
    digest: str
    answer: dict[str, Any] = attrs.field(repr=False)

    @property
    def client_id(self) -> Any:
        return self.answer.get("client_id")


class IntrospectionValidator(IntrospectTokenValidator):  # type: ignore[misc]
    """Ask a remote authorization server whether a token is active (RFC 7662).

    Answers are kept in :attr:`cache` (``None`` when ``introspection_cache_seconds``
    or ``introspection_cache_size`` is 0) by the token's digest, never past the
    token's ``exp``; :meth:`forget` drops those an invalidation names.
    """

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        super().__init__(realm=settings["realm"])
        self.hub = hub
        self.url = settings["introspection_url"]
        self.credentials = (settings["introspection_client_id"], settings["introspection_client_secret"])
        self.http = _http_client(settings)
        seconds, size = settings["introspection_cache_seconds"], settings["introspection_cache_size"]
        self.cache: TTLCache[str, Introspected] | None = TTLCache(seconds, size) if seconds > 0 and size > 0 else None

    def close(self) -> None:
        self.http.close()

    def forget(self, kind: str, key: str) -> None:
        """Drop kept answers about a revoked token (``oauth-token``, its digest) or a deleted client; ``*`` all."""
        if self.cache is None:
            return
        if kind == "oauth-token":
            self.cache.discard(lambda kept: kept.digest == key)
        elif kind == "oauth-client":
            self.cache.discard(lambda kept: kept.client_id == key)
        elif kind == "*":
            self.cache.clear()

    def introspect_token(self, token_string: str) -> dict[str, Any]:
        key = digest(token_string)
        cache = self.cache
        cached = cache.get(key) if cache is not None else None
        if cached is not None:
            return cached.answer
        generation = cache.generation if cache is not None else 0  # read before the answer is
        try:
            response = self.http.post(
                self.url, data={"token": token_string, "token_type_hint": "access_token"}, auth=self.credentials,
            )
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise StoreUnavailable("The token introspection endpoint is unavailable.") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            raise StoreUnavailable("The token introspection endpoint gave an invalid answer.")
        try:
            expires = _timestamp(answer.get("exp"))
        except InvalidTokenError:
            return answer  # validate_token refuses it; an answer that cannot be read is not kept
        if cache is not None:
            cache.put(key, Introspected(key, answer), generation,
                      expires_at=None if expires is None else expires.timestamp())
        return answer

    def validate_token(self, token: Any, scopes: Any, request: Any) -> None:
        expires = _timestamp(token.get("exp")) if token else None
        if expires is not None and expires <= dt.datetime.now(dt.timezone.utc):
            raise InvalidTokenError("The access token expired.")
        if not token or not token.get("active"):
            raise InvalidTokenError("The access token is not active.")
        token_type = token.get("token_type")
        if not isinstance(token_type, str) or token_type.lower() not in ACCESS_TOKEN_TYPES:
            # RFC 7662 §2.2: a refresh token is active too, and the hint we send is only a
            # hint: only an answer that says "access token" authenticates a request.
            raise InvalidTokenError("The token is not an access token.")
        _timestamp(token.get("iat"), "iat")
        _timestamp(token.get("nbf"), "nbf")
        super().validate_token(token, scopes, request)

    def identity(self, answer: Mapping[str, Any]) -> tuple[Any, AccessToken]:
        client_id = answer.get("client_id")
        request_user, user = _subject(self.hub, answer.get("username"), client_id)
        auth = AccessToken(scopes=_scopes(answer.get("scope")), client_id=client_id,
                           expires_at=_timestamp(answer.get("exp")), user=user, source="introspection",
                           jkt=_bound_key(answer.get("cnf")))
        return request_user, auth
