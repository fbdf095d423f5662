"""The request path: a well-formed key, one query (or a cache hit), an answer.

One :class:`TokenAuthenticator` per hub holds everything computed ahead
of time (the compiled query, the settings as values, the cache), so a
request costs a checksum, a SHA-256, one indexed query and two small
frozen values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from authhub import AuthenticationFailed, AuthhubError, ConfigurationError, User
from authhub.store import Store
from authhub.users import INACTIVE
from authhub_token.cache import Answer, TokenCache
from authhub_token.config import TokenSettings
from authhub_token.keys import has_valid_checksum
from authhub_token.lookup import TokenLookup
from authhub_token.models import BaseToken
from authhub_token.values import NO_EXTRA, NO_SCOPES, TokenInfo

log = logging.getLogger("authhub.token")

INVALID_TOKEN = "Invalid token."
UTC = dt.timezone.utc


class UnknownToken(AuthenticationFailed):
    """A well-formed key that names no live token: it counts towards the lockout."""


class TokenAuthenticator:
    """Authenticates token keys for one hub (its store, its settings, its model)."""

    def __init__(self, store: Store, section: Any, model: type) -> None:
        if not (isinstance(model, type) and issubclass(model, BaseToken)):
            raise ConfigurationError(f"token_model returned {model!r}; expected a subclass of BaseToken")
        self.store = store
        self.section = section
        self.settings = TokenSettings.from_section(section)
        self.keyword = self.settings.keyword.lower()
        self.lookup = TokenLookup(store, model)
        settings = self.settings
        self.cache = TokenCache(settings.cache_ttl, settings.cache_size) if (
            settings.cache_ttl > 0 and settings.cache_size > 0) else None
        self.interval = settings.last_used_interval if self.lookup.has["last_used_at"] else None

    def authenticate(self, key: str) -> Answer:
        """``(user, TokenInfo)`` for a live key of an active user; raises :class:`AuthenticationFailed`."""
        try:
            raw = key.encode("ascii")
        except UnicodeEncodeError:
            raise AuthenticationFailed(INVALID_TOKEN) from None
        digest = hashlib.sha256(raw).digest()  # what keys.digest() stores
        cache = self.cache
        if cache is not None:
            now = time.time()
            answer = cache.get(digest, now)
            if answer is not None:  # only verified keys are ever cached
                return answer
            generation = cache.generation
        if not has_valid_checksum(raw):
            raise AuthenticationFailed(INVALID_TOKEN)
        lookup = self.lookup
        # The digest is an index key, not a secret compared here: finding it
        # reveals nothing to a client that does not already hold the key.
        row = lookup.fetch(digest)
        if row is None:
            raise UnknownToken(INVALID_TOKEN)
        token_id, user_id, username, is_active, name, scopes, expires_at, last_used_at = row[:8]
        moment = dt.datetime.now(UTC)
        if expires_at is not None:
            expires_at = lookup.expires_at(expires_at)
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
            if expires_at <= moment:
                raise UnknownToken(INVALID_TOKEN)
        if not is_active:
            raise AuthenticationFailed(INACTIVE)
        if self.interval is not None:
            self._touch(token_id, lookup.last_used_at(last_used_at) if last_used_at is not None else None, moment)
        info = TokenInfo(
            token_id,
            user_id,
            name,
            frozenset(scopes.split()) if scopes else NO_SCOPES,
            expires_at,
            self._extra(row) if lookup.extra_names else NO_EXTRA,
        )
        answer = (User(user_id, username, True), info)
        if cache is not None:
            cache.put(digest, answer, now, expires_at.timestamp() if expires_at is not None else None, generation)
        return answer

    def _extra(self, row: Any) -> Mapping[str, Any]:
        lookup = self.lookup
        return MappingProxyType({
            name: processor(value) if value is not None else None
            for name, processor, value in zip(lookup.extra_names, lookup.extra_processors, row[8:], strict=True)
        })

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
            with self.store.connect() as connection:
                # The condition makes concurrent processes write once between them.
                connection.execute(
                    sa.update(table)
                    .where(self.lookup.id_column == token_id, sa.or_(column.is_(None), column <= threshold))
                    .values(last_used_at=moment)
                )
        except (AuthhubError, sa.exc.SQLAlchemyError) as exc:
            # Bookkeeping only: the token was verified, the request goes on.
            log.warning("token %s: could not record last_used_at: %s", token_id, type(exc).__name__)

    def close(self) -> None:
        """Close the lookup's own connections."""
        self.lookup.close()

    def forget(self, *, token_ids: frozenset[Any] = frozenset(), user_id: Any = None,
               username: str | None = None) -> None:
        """Drop cached answers for these tokens / this user (after a revocation or a user change)."""
        if self.cache is None:
            return
        self.cache.discard(lambda answer: answer[1].id in token_ids or answer[0].id == user_id
                           or answer[0].username == username)
