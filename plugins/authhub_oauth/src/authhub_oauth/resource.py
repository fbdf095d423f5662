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

DPoP (RFC 9449 §7): a token bound to a key (``AccessToken.jkt``, from
``cnf.jkt`` or the token's row) is accepted only as ``Authorization: DPoP
<token>`` with a fresh proof of that key for this request (method, URL,
``ath``), each proof once; sent as ``Bearer`` it is refused, so a stolen
token is useless without the key. Unbound tokens work as ``Bearer`` as
before. The binding is checked on cache hits too.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError

from authhub import AuthHub, AuthhubError, BadRequest, MalformedCredentials, Request, SQLUserStore, TTLCache
from authhub_oauth.dpop import DPoPRefused, Proof, ProofChecker, ProofError, dpop_challenge, proof_header
from authhub_oauth.errors import InvalidBearerRequest, InvalidToken, bearer_challenge
from authhub_oauth.identity import AccessToken
from authhub_oauth.issued_jwt import IssuedJWTValidator, looks_like_jwt
from authhub_oauth.models import digest
from authhub_oauth.replay import RedisReplayCache, ReplayCache, StoreReplayCache
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

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any], *,
                 issued_jwts: IssuedJWTValidator | None = None) -> None:
        self.hub = hub
        self.realm: str = settings["realm"]
        #: The check of JWT access tokens issued here (a token with two dots goes to it); ``None``: none.
        self.issued_jwts = issued_jwts
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
        #: DPoP proofs' checks (``None`` with ``dpop`` off: ``Authorization: DPoP`` is then not read).
        self.proofs: ProofChecker | None = proof_checker(hub, settings) if settings["dpop"] else None
        #: The origin a proof's ``htu`` must name; ``None``: the request's own.
        self.origin = resource_origin(settings)

    @functools.cached_property
    def _users_announce(self) -> bool:
        """Whether a kept user stands (decided on first use: building a hub must not need its user store).

        The built-in store announces every change of a user (``("user", id)``);
        an application's own store changes behind authhub's back and tells
        nobody, so a hit reads the user from it again.
        """
        return isinstance(self.hub.users, SQLUserStore)

    def authenticate(self, request: Request) -> Answer | None:
        """``(user, AccessToken)`` for a good access token, ``None`` without one; raises for a bad one.

        With ``Authorization: DPoP`` the proof is checked, then the token, then that the
        token is bound to the proof's key; the proof is recorded as used last.
        """
        dpop_token = self._dpop_token(request)
        if dpop_token is None:
            answer = self._bearer(request)
            if answer is not None and answer[1].jkt is not None:
                raise DPoPRefused("invalid_token", "The access token is bound to a DPoP key: send it as "
                                                   "'Authorization: DPoP' with a DPoP proof.")
            return answer
        assert self.proofs is not None
        proof = self._proof(request, dpop_token)
        try:
            answer = self._answer(request, dpop_token)
        except InvalidToken as error:
            raise DPoPRefused("invalid_token", error.detail) from None
        bound = answer[1].jkt
        if bound is None:
            raise DPoPRefused("invalid_token", "The access token is not bound to a DPoP key: send it as "
                                               "'Authorization: Bearer'.")
        if not hmac.compare_digest(bound.encode(), proof.jkt.encode()):
            raise DPoPRefused("invalid_token", "The DPoP proof is signed with another key than the one the "
                                               "access token is bound to.")
        try:
            self.proofs.use(proof)
        except ProofError as error:
            raise DPoPRefused("invalid_dpop_proof", str(error)) from None
        return answer

    def _dpop_token(self, request: Request) -> str | None:
        """The token of ``Authorization: DPoP <token>`` (RFC 9449 §7.1), ``None`` for any other header."""
        if self.proofs is None:
            return None
        try:
            token = request.credentials("DPoP", MAX_HEADER_SIZE)
        except MalformedCredentials as error:
            raise self._malformed(error.detail) from None
        if token is not None and not B64TOKEN.fullmatch(token):
            raise self._malformed("The access token is malformed.")
        return token

    def _malformed(self, detail: str) -> BadRequest:
        """A malformed ``Authorization: DPoP`` header: 400 ``invalid_request`` (RFC 6750 §3.1, RFC 9449 §7.1)."""
        assert self.proofs is not None
        challenge = dpop_challenge(self.proofs.algorithms, "invalid_request", detail)
        return BadRequest(detail, headers={"WWW-Authenticate": challenge})

    def _proof(self, request: Request, token: str) -> Proof:
        """The request's DPoP proof, checked for this request and ``token`` (not yet recorded as used)."""
        assert self.proofs is not None
        try:
            value = proof_header(request)
            if value is None:
                raise ProofError("A DPoP-bound access token needs a DPoP proof in the 'DPoP' header.")
            return self.proofs.check(value, method=request.method, url=self.request_url(request), access_token=token)
        except ProofError as error:
            raise DPoPRefused("invalid_dpop_proof", str(error)) from None

    def request_url(self, request: Request) -> str:
        """The URL a proof's ``htu`` must name: the configured origin (else the request's) and the path."""
        return f"{self.origin or request.origin}{request.path}"

    def _bearer(self, request: Request) -> Answer | None:
        token_string = bearer_token(request, self.realm)
        if token_string is None:
            return None
        return self._answer(request, token_string)

    def _answer(self, request: Request, token_string: str) -> Answer:
        """The verified answer for ``token_string``: from the cache while it can be trusted, else checked."""
        cache = self._usable_cache()
        if cache is None:
            return self._verify(request, token_string)
        key = digest(token_string)
        kept = cache.get(key)
        if kept is not None and not self._revoked_jwt(kept.answer):
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
        """:meth:`authenticate` for ASGI: no token and a hit that needs no store are answered on the event loop.

        A DPoP request always goes to a thread: its proof is recorded in the store or Redis.
        """
        if self._dpop_token(request) is not None:
            return await asyncio.to_thread(self.authenticate, request)
        token_string = bearer_token(request, self.realm)
        if token_string is None:
            return None
        cache = self._usable_cache()
        if cache is not None:
            kept = cache.get(digest(token_string))
            if kept is not None and kept.answer[1].jkt is None and (kept.user_id is None or self._users_announce) and (
                    kept.answer[1].jti is None or self._known_live_jwt(kept.answer[1].jti)):
                return kept.answer
        return await asyncio.to_thread(self.authenticate, request)

    def _revoked_jwt(self, answer: Answer) -> bool:
        """Whether a kept answer is a JWT issued here that was revoked since: the revocation list, on every hit."""
        jti = answer[1].jti
        return jti is not None and self.issued_jwts is not None and self.issued_jwts.revoked.is_revoked(jti)

    def _known_live_jwt(self, jti: str) -> bool:
        """Whether memory alone says a JWT issued here is not revoked (on the event loop the store is not asked)."""
        return self.issued_jwts is not None and self.issued_jwts.revoked.known_revoked(jti) is False

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
        validator: OpaqueTokenValidator | JWTTokenValidator | IntrospectionValidator | IssuedJWTValidator
        validator = self.validator
        if self.issued_jwts is not None and looks_like_jwt(token_string):
            validator = self.issued_jwts  # opaque tokens issued here never have a dot
        try:
            # What Authlib's ResourceProtector does once the header is read.
            token: Any = validator.authenticate_token(token_string)
            validator.validate_token(token, None, request)
            return validator.identity(token)
        except InvalidTokenError as error:
            if isinstance(validator, OpaqueTokenValidator):
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
        if self.proofs is not None:
            self.proofs.replay.close()
        if isinstance(self.validator, (JWTTokenValidator, IntrospectionValidator)):
            self.validator.close()


def proof_checker(hub: AuthHub, settings: Mapping[str, Any]) -> ProofChecker:
    """The DPoP checks of one hub, its used proofs in Redis when configured, else in its store."""
    max_age = settings["dpop_proof_max_age"]
    replay: ReplayCache
    if settings["dpop_replay_redis_url"]:
        replay = RedisReplayCache(settings["dpop_replay_redis_url"])
    else:
        replay = StoreReplayCache(hub.store, purge_every=max(60.0, float(max_age)))
    return ProofChecker(settings["dpop_algorithms"], max_age, replay)


def resource_origin(settings: Mapping[str, Any]) -> str | None:
    """``resource_url``, else the issuer's origin; ``None`` when neither is set (the request's own origin then)."""
    configured = settings["resource_url"] or settings["issuer"]
    if not configured:
        return None
    parts = urlsplit(str(configured))
    return f"{parts.scheme}://{parts.netloc}"


def challenge_for(realm: str, error: AuthhubError | None, dpop_algorithms: Sequence[str] = ()) -> str:
    """This scheme's ``WWW-Authenticate`` for a 401: bare, with ``invalid_token``, or DPoP's (RFC 9449 §7.1)."""
    if isinstance(error, DPoPRefused):
        return dpop_challenge(dpop_algorithms, error.error, error.detail)
    if isinstance(error, InvalidToken):
        return bearer_challenge(realm, "invalid_token", error.detail)
    return bearer_challenge(realm)
