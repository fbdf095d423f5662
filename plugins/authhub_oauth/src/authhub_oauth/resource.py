"""The resource server: ``Authorization: Bearer`` in, ``(user, AccessToken)`` out (RFC 6750).

Only the ``Authorization`` header is read, through :meth:`authhub.Request.credentials`:
tokens in query strings or form bodies are never looked at (RFC 6750 §2.3
and §5.3 advise against them).

Verified answers (opaque tokens issued here, and JWTs) are kept in
:attr:`BearerResource.cache` by the token's digest, never the token, while
the hub's invalidation channel is current: a revocation
(``("oauth-token", digest)``), a deleted client (``("oauth-client", id)``)
and a change of the user (``("user", id)``) drop them in every process on
the store. Only access tokens are ever looked up, so only access tokens
are ever kept: a refresh token presented as a bearer token is unknown.
Introspection keeps its own answers (:class:`IntrospectionValidator`).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping
from typing import Any

import attrs
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError

from authhub import AuthHub, AuthhubError, MalformedCredentials, Request, SQLUserStore, TTLCache
from authhub_oauth.errors import InvalidBearerRequest, InvalidToken, bearer_challenge
from authhub_oauth.identity import AccessToken
from authhub_oauth.models import digest
from authhub_oauth.validators import IntrospectionValidator, JWTTokenValidator, OpaqueTokenValidator

#: RFC 6750 §2.1: ``b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="``
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: The longest ``Authorization: Bearer`` header read; a longer one is a malformed request.
MAX_HEADER_SIZE = 8192

Answer = tuple[Any, AccessToken]


@attrs.frozen
class Verified:
    """A kept answer, with what invalidations are matched against (never the token itself)."""

    #: The token's digest: the cache's key, and the key of ``("oauth-token", ...)``.
    digest: str
    #: ``str(user.id)`` of the token's user, ``None`` for a client's own token.
    user_id: str | None
    answer: Answer = attrs.field(repr=False)

    @property
    def client_id(self) -> str | None:
        return self.answer[1].client_id


def bearer_token(request: Request, realm: str) -> str | None:
    """The bearer token of ``request``; ``None`` when it sends no ``Bearer`` credentials.

    A ``Bearer`` header without a well-formed token is a malformed request (400).
    """
    try:
        token = request.credentials("Bearer", MAX_HEADER_SIZE)
    except MalformedCredentials as error:
        raise InvalidBearerRequest(error.detail, realm) from None
    if token is not None and not B64TOKEN.fullmatch(token):
        raise InvalidBearerRequest("The bearer token is malformed.", realm)
    return token


class BearerResource:
    """One hub's resource server: the validator that ``token_source`` names, and its cache."""

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        self.hub = hub
        self.realm: str = settings["realm"]
        source = settings["token_source"]
        self.validator: OpaqueTokenValidator | JWTTokenValidator | IntrospectionValidator
        if source == "jwt":
            self.validator = JWTTokenValidator(hub, settings)
        elif source == "introspection":
            self.validator = IntrospectionValidator(hub, settings)
        else:
            self.validator = OpaqueTokenValidator(hub, self.realm)
        caching = settings["cache_ttl"] > 0 and settings["cache_size"] > 0 and source != "introspection"
        #: Verified answers by the token's digest; ``None`` when off (and for introspection, which keeps its own).
        self.cache: TTLCache[str, Verified] | None = (
            TTLCache(float(settings["cache_ttl"]), settings["cache_size"]) if caching else None
        )

    @functools.cached_property
    def _users_announce(self) -> bool:
        """Whether a kept user stands (decided on first use: building a hub must not need its user store).

        The built-in store announces every change of a user (``("user", id)``);
        an application's own store changes behind authhub's back and tells
        nobody, so a hit reads the user from it again.
        """
        return isinstance(self.hub.users, SQLUserStore)

    def authenticate(self, request: Request) -> Answer | None:
        """``(user, AccessToken)`` for a good bearer token, ``None`` without one; raises for a bad one."""
        token_string = bearer_token(request, self.realm)
        if token_string is None:
            return None
        cache = self._usable_cache()
        if cache is None:
            return self._verify(request, token_string)
        key = digest(token_string)
        kept = cache.get(key)
        if kept is not None:
            answer = kept.answer if self._users_announce or kept.user_id is None else self._current(kept)
            if answer is not None:
                return answer
            # the user is gone or inactive in the application's store: the full check refuses it
        generation = cache.generation  # read before the store: a revocation meanwhile wins
        answer = self._verify(request, token_string)
        user = answer[1].user
        expires_at = answer[1].expires_at
        cache.put(key, Verified(key, None if user is None else str(user.id), answer), generation,
                  expires_at=None if expires_at is None else expires_at.timestamp())
        return answer

    async def aauthenticate(self, request: Request) -> Answer | None:
        """:meth:`authenticate` for ASGI: no token and a hit that needs no store are answered on the event loop."""
        token_string = bearer_token(request, self.realm)
        if token_string is None:
            return None
        cache = self._usable_cache()
        if cache is not None:
            kept = cache.get(digest(token_string))
            if kept is not None and (kept.user_id is None or self._users_announce):
                return kept.answer
        return await asyncio.to_thread(self.authenticate, request)

    def _usable_cache(self) -> TTLCache[str, Verified] | None:
        """The cache while it can be trusted: only while the invalidation channel is current (fail closed)."""
        cache = self.cache
        return cache if cache is not None and self.hub.changes.current else None

    def _current(self, kept: Verified) -> Answer | None:
        """A kept answer with its user as the application's store has it now; ``None`` when gone or inactive."""
        user = self.hub.users.get(kept.user_id)
        if user is None or not user.is_active:
            return None
        return user, attrs.evolve(kept.answer[1], user=user)

    def _verify(self, request: Request, token_string: str) -> Answer:
        """Check the token with the validator, as Authlib's ``ResourceProtector`` would."""
        try:
            # What Authlib's ResourceProtector does once the header is read.
            token: Any = self.validator.authenticate_token(token_string)
            self.validator.validate_token(token, None, request)
            return self.validator.identity(token)
        except InvalidTokenError as error:
            if isinstance(self.validator, OpaqueTokenValidator):
                # Guessing tokens: count it against the token's first characters and
                # the address; 429 once they are locked. Good tokens never pay for it.
                subject = f"bearer:{token_string[:8]}"
                self.hub.lockout.check(request, subject)
                self.hub.lockout.failed(request, subject)
            raise InvalidToken(error.get_error_description()) from None
        except OAuth2Error as error:
            raise InvalidBearerRequest(error.get_error_description() or "Malformed bearer request.",
                                       self.realm) from None

    def invalidated(self, kind: str, key: str) -> None:
        """Drop kept answers that ``kind``/``key`` made wrong: a revoked token, a deleted client, a changed user.

        ``"*"`` (the channel could not be sure it heard everything) drops them all.
        """
        cache = self.cache
        if cache is not None:
            if kind == "oauth-token":
                cache.discard(lambda kept: kept.digest == key)
            elif kind == "oauth-client":
                cache.discard(lambda kept: kept.client_id == key)
            elif kind == "user":
                cache.discard(lambda kept: kept.user_id == key)
            elif kind == "*":
                cache.clear()
        if isinstance(self.validator, IntrospectionValidator):
            self.validator.forget(kind, key)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.clear()
        if isinstance(self.validator, (JWTTokenValidator, IntrospectionValidator)):
            self.validator.close()


def challenge_for(realm: str, error: AuthhubError | None) -> str:
    """This scheme's ``WWW-Authenticate`` for a 401: bare, or with ``invalid_token``."""
    if isinstance(error, InvalidToken):
        return bearer_challenge(realm, "invalid_token", error.detail)
    return bearer_challenge(realm)
