"""``TokenScheme``: one hub's token authentication, with its read, its cache and its settings.

The hub builds one with ``create_scheme`` and registers it, so its hook
methods answer for that hub alone. Everything a request needs is decided
here once (the settings as values, the prepared read, whether the user
comes from the join or from the user store, the cache), so a request
costs the ``Authorization`` reader, a SHA-256, a checksum and one indexed
read, or, when the cache has seen its header, one SHA-256 and a dict
lookup.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

import authhub
from authhub_token.keys import PREFIX, has_valid_checksum
from authhub_token.lookup import EXPIRES_AT, ID, IS_ACTIVE, LAST_USED_AT, NAME, SCOPES, USER_ID, USERNAME, TokenLookup
from authhub_token.models import BaseToken
from authhub_token.settings import TokenSettings
from authhub_token.values import NO_EXTRA, NO_SCOPES, TokenInfo

if TYPE_CHECKING:
    from authhub import AuthHub

log = logging.getLogger("authhub.token")

INVALID_TOKEN = "Invalid token."  # noqa: S105 - an error message, not a credential
NO_CREDENTIALS = "Invalid token header. No credentials provided."
SPACES = "Invalid token header. Token string should not contain spaces."
#: The core reader's reasons (:attr:`authhub.MalformedCredentials.reason`) this scheme answers in
#: Django REST framework's words, as it always has; any other reason keeps the core's message.
DRF_MESSAGES = {
    "no credentials provided": NO_CREDENTIALS,
    "the credentials must be a single token, without spaces": SPACES,
}
#: How much of a key names it for the lockout: ``ahk_`` and 8 random characters.
PREFIX_LENGTH = len(PREFIX) + 8
UTC = dt.timezone.utc

#: ``(user, TokenInfo)``: what ``authenticate`` answers and the cache keeps.
Answer = tuple[Any, TokenInfo]


class Keep(NamedTuple):
    """Where a miss keeps the answer it verifies: the cache, the header's digest, the generation read first."""

    cache: authhub.TTLCache[bytes, Answer]
    key: bytes
    generation: int


def header_digest(header: str) -> bytes:
    """The cache's key: the BLAKE2s-256 digest of the ``Authorization`` value exactly as sent.

    A repeated request is recognised before its header is parsed; every
    answer in the cache was verified from that very value, so a hit needs
    no parsing and no checksum. BLAKE2s rather than SHA-256 (which the
    stored digests use) because it costs less on a short input here:
    244 against 316 ns, on every cached request.
    """
    return hashlib.blake2s(header.encode("utf-8", "surrogatepass")).digest()


class UnknownToken(authhub.AuthenticationFailed):
    """A well-formed key that names no live token: it counts towards the lockout."""


class TokenScheme(authhub.Scheme):
    """Authenticates ``Authorization: Token <key>`` for one hub.

    :param hub: the hub that owns the object.
    :param name: the scheme's name in that hub (``token``).
    :param settings: its settings section; checked here, once
        (:class:`authhub.ConfigurationError` when one cannot work).
    """

    position = 100

    def __init__(self, hub: AuthHub, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(hub, name, settings)
        #: The settings as values.
        self.values = TokenSettings.from_section(settings, name)
        self.keyword = self.values.keyword
        model = hub.token_model()
        if not (isinstance(model, type) and issubclass(model, BaseToken)):
            raise authhub.ConfigurationError(f"token_model returned {model!r}; expected a subclass of BaseToken")
        self.users = hub.users
        builtin = isinstance(self.users, authhub.SQLUserStore)
        #: With the built-in store one read brings the token and its user; otherwise the token alone.
        self.lookup = TokenLookup(hub.store, model, authhub.SQLUserStore.table if builtin else None)
        self.cache: authhub.TTLCache[bytes, Answer] | None = (
            authhub.TTLCache(self.values.cache_ttl, self.values.cache_size) if self.values.caching else None
        )
        self.interval = self.values.last_used_interval if self.lookup.has["last_used_at"] else None
        self._user: Callable[[Sequence[Any]], Any] = self._joined_user if builtin else self._stored_user
        # A cache hit still asks an application's own store for the user. Such a store changes behind
        # authhub's back (its admin disables an account in its own table) and announces nothing on
        # the invalidation channel, so a cached user would outlive the change by up to cache_ttl;
        # the built-in store announces every change (hub.user_changed -> invalidated("user")).
        self._recheck: Callable[[Answer], Answer] | None = None if builtin else self._current
        #: What a header of this scheme starts with, lower-cased: a cache lookup is for those only.
        self._prefix = self.keyword.lower() + " "
        self._prefix_length = len(self._prefix)

    # -- the request path ------------------------------------------------------------

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request) -> Answer | None:
        """``(user, TokenInfo)`` for a live key of an active user; ``None`` without a token header."""
        header = request.authorization
        if header is None:
            return None
        answer, keep = self._cached(header)
        if answer is not None:
            return answer if self._recheck is None else self._recheck(answer)
        read = self._read_key(request)
        if read is None:
            return None
        return self._miss(request, *read, keep)

    @authhub.hookimpl
    async def aauthenticate(self, request: authhub.Request) -> Answer | None:
        """The ASGI form: no token and a cache hit are answered on the event loop; only a miss goes to a thread."""
        if self._recheck is not None:  # an application's own store is asked on every request, blocking
            return await asyncio.to_thread(self.authenticate, request)
        header = request.authorization
        if header is None:
            return None
        answer, keep = self._cached(header)
        if answer is not None:
            return answer
        read = self._read_key(request)
        if read is None:
            return None
        return await asyncio.to_thread(self._miss, request, *read, keep)

    def _read_key(self, request: authhub.Request) -> tuple[str, bytes] | None:
        """``(key, its ASCII bytes)`` from ``Authorization``; ``None`` without a token header."""
        try:
            key = request.credentials(self.keyword)
        except authhub.MalformedCredentials as error:
            raise authhub.AuthenticationFailed(DRF_MESSAGES.get(error.reason, error.detail)) from None
        if key is None:
            return None
        try:
            return key, key.encode("ascii")
        except UnicodeEncodeError:
            raise authhub.AuthenticationFailed(INVALID_TOKEN) from None

    def _cached(self, header: str) -> tuple[Answer | None, Keep | None]:
        """The cached answer for ``header``, or how to keep the answer a miss verifies (``None``: don't).

        Only a header of this scheme is looked up, and only while the
        invalidation channel is current (fail closed). The generation is
        taken before the store is read: a revocation meanwhile wins.
        """
        cache = self.cache
        if cache is None or header[:self._prefix_length].lower() != self._prefix or not self.hub.changes.current:
            return None, None
        seen = header_digest(header)
        answer = cache.get(seen)  # only verified answers are ever cached
        return answer, (None if answer is not None else Keep(cache, seen, cache.generation))

    def _miss(self, request: authhub.Request, key: str, raw: bytes, keep: Keep | None) -> Answer:
        """Verify a key against the store (and keep the answer, when ``keep`` says where)."""
        if not has_valid_checksum(raw):
            raise authhub.AuthenticationFailed(INVALID_TOKEN)
        try:
            # The digest is an index key, not a secret compared here: finding it
            # reveals nothing to a client that does not already hold the key.
            answer = self._verify(hashlib.sha256(raw).digest())  # what keys.digest() stores
        except UnknownToken:
            # Guessing keys: count it against the key's prefix and the address, and
            # answer 429 once they are locked (valid keys never pay for this).
            subject = f"token:{key[:PREFIX_LENGTH]}"
            self.hub.lockout.check(request, subject)
            self.hub.lockout.failed(request, subject)
            raise
        if keep is not None:
            expires_at = answer[1].expires_at
            deadline = expires_at.timestamp() if expires_at is not None else None
            keep.cache.put(keep.key, answer, keep.generation, expires_at=deadline)
        return answer

    def _verify(self, digest: bytes) -> Answer:
        row = self.lookup.fetch(digest)
        if row is None:
            raise UnknownToken(INVALID_TOKEN)
        moment = dt.datetime.now(UTC)
        expires_at = row[EXPIRES_AT]
        if expires_at is not None:
            if expires_at.tzinfo is None:  # SQLite keeps no zone; every stored time is UTC
                expires_at = expires_at.replace(tzinfo=UTC)
            if expires_at <= moment:
                raise UnknownToken(INVALID_TOKEN)
        user = self._user(row)
        if self.interval is not None:
            self._touch(row[ID], row[LAST_USED_AT], moment)
        scopes = row[SCOPES]
        info = TokenInfo(
            row[ID],
            user.id,
            row[NAME],
            frozenset(scopes.split()) if scopes else NO_SCOPES,
            expires_at,
            self._extra(row) if self.lookup.extra_names else NO_EXTRA,
        )
        return user, info

    def _joined_user(self, row: Sequence[Any]) -> authhub.User:
        """The user from the joined read (built-in store)."""
        if not row[IS_ACTIVE]:
            raise authhub.UserInactive()
        return authhub.User(row[USER_ID], row[USERNAME], True)

    def _stored_user(self, row: Sequence[Any]) -> Any:
        """The user from the user store, by the token's ``user_id`` (any other store)."""
        user = self.users.get(row[USER_ID])
        if user is None or not user.is_active:
            raise authhub.UserInactive()
        return user

    def _current(self, answer: Answer) -> Answer:
        """A cached answer with its user as the store has it now; refused when gone or inactive."""
        user = self.users.get(answer[1].user_id)
        if user is None or not user.is_active:
            raise authhub.UserInactive()
        return user, answer[1]

    def _extra(self, row: Sequence[Any]) -> Mapping[str, Any]:
        lookup = self.lookup
        return MappingProxyType(dict(zip(lookup.extra_names, row[lookup.extra_start:], strict=True)))

    def _touch(self, token_id: Any, last_used_at: dt.datetime | None, moment: dt.datetime) -> None:
        """Record the use, at most once per ``last_used_interval`` (every process together)."""
        assert self.interval is not None
        threshold = moment - self.interval
        if last_used_at is not None:
            if last_used_at.tzinfo is None:
                last_used_at = last_used_at.replace(tzinfo=UTC)
            if last_used_at > threshold:
                return
        table = self.lookup.table
        column = table.c.last_used_at
        try:
            with self.hub.store.connect() as connection:
                # The condition makes concurrent processes write once between them.
                connection.execute(
                    sa.update(table)
                    .where(self.lookup.id_column == token_id, sa.or_(column.is_(None), column <= threshold))
                    .values(last_used_at=moment)
                )
        except (authhub.AuthhubError, sa.exc.SQLAlchemyError) as exc:
            # Bookkeeping only: the token was verified, the request goes on.
            log.warning("token %s: could not record last_used_at: %s", token_id, type(exc).__name__)

    # -- the other hooks ---------------------------------------------------------------

    @authhub.hookimpl
    def challenge(self) -> str:
        return self.keyword

    @authhub.hookimpl
    def invalidated(self, kind: str, key: str) -> None:
        """Drop cached answers: ``("token", id)`` after a revocation, ``("user", id)`` after a user change."""
        cache = self.cache
        if cache is None:
            return
        if kind == "token":
            cache.discard(lambda answer: str(answer[1].id) == key)
        elif kind == "user":
            cache.discard(lambda answer: str(answer[1].user_id) == key)
        elif kind == "*":  # the channel lost track of announcements: drop everything
            cache.clear()

    @authhub.hookimpl
    def auth_headers(self, user: Any) -> dict[str, str]:
        """A fresh token for ``user`` as an ``Authorization`` header (test helpers only)."""
        from authhub_token.api import TokenError, create_token  # the API builds on this module

        try:
            new = create_token(self.hub, user.username, name="test")
        except TokenError as error:
            raise authhub.AuthhubError(str(error)) from None
        return {"Authorization": f"{self.keyword} {new.key}"}

    @authhub.hookimpl
    def serve_routes(self) -> list[authhub.Route]:
        """``/tokens`` (create, list, revoke, logout) and the self-service page ``/account/tokens``."""
        from authhub_token.routes import routes  # they build on this module

        return routes(self)

    def openapi(self) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"authhub-token: `Authorization: {self.keyword} <key>`.",
        }

    def close(self) -> None:
        """Empty the cache. The read's connections are the store's (``store.kept``): the hub closes them."""
        if self.cache is not None:
            self.cache.clear()
