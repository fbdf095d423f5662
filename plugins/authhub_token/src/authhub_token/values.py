"""The values the token scheme hands out: what ``request.auth`` holds, and what the API returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

NO_EXTRA: Mapping[str, Any] = MappingProxyType({})
NO_SCOPES: frozenset[str] = frozenset()


@attrs.frozen
class TokenInfo:
    """``request.auth`` for a token-authenticated request: the token's row, without its digest.

    ``extra`` holds the columns a custom token model adds (empty for the
    default model).
    """

    id: Any
    #: The user's id as the user store hands it (``request.user.id``).
    user_id: int | str
    name: str | None
    scopes: frozenset[str]
    expires_at: dt.datetime | None
    extra: Mapping[str, Any] = NO_EXTRA

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@attrs.frozen
class TokenRecord:
    """A token as the Python API and ``authhub tokens list`` show it: never its key or digest.

    ``user_id`` is the user's id as the user store hands it; ``username`` is
    ``None`` when the store no longer knows the user (the token then
    authenticates nobody).
    """

    id: Any
    user_id: int | str
    username: str | None
    name: str | None
    scopes: frozenset[str]
    created_at: dt.datetime | None
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked: bool
    extra: Mapping[str, Any] = NO_EXTRA

    def as_json(self) -> dict[str, Any]:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id, "user": self.username, "user_id": self.user_id, "name": self.name,
            "scopes": sorted(self.scopes),
            "created_at": when(self.created_at), "last_used_at": when(self.last_used_at),
            "expires_at": when(self.expires_at), "revoked": self.revoked,
        }


@attrs.frozen
class NewToken:
    """A token just created: the only time its plaintext ``key`` exists."""

    key: str = attrs.field(repr=False)
    token: TokenRecord


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back without their zone; every stored one is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value
