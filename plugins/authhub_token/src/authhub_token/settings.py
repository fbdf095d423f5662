"""The token scheme's settings (``[tool.authhub.token]``, ``AUTHHUB_TOKEN_*``) and durations.

:data:`SETTINGS` declares them; :class:`TokenSettings` is the section
checked once, when a hub builds its :class:`~authhub_token.TokenScheme`,
and turned into the values the code uses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import attrs

import authhub

SETTINGS: dict[str, authhub.Setting] = {
    "keyword": authhub.Setting("Token", help="The Authorization keyword, matched case-insensitively."),
    "lifetime": authhub.Setting(
        None, nullable=True, help="Default lifetime of new tokens (90d, 12h, 30m, 45s, 2w); empty = never expire."
    ),
    "max_per_user": authhub.Setting(
        None, kind=int, nullable=True, help="Most active tokens a user may hold; empty = no limit."
    ),
    "last_used_interval": authhub.Setting(
        60, kind=int, nullable=True, help="Write last_used_at at most once per this many seconds; empty = never."
    ),
    "cache_ttl": authhub.Setting(
        60.0,
        kind=float,
        help="Keep verified tokens in memory at most this many seconds (0 = off). A revocation reaches every "
        "process through the invalidation channel at once; this is only the safety net.",
    ),
    "cache_size": authhub.Setting(10_000, kind=int, help="Most tokens the in-memory cache holds."),
    "create_schemes": authhub.Setting(
        ["basic", "session"], kind=list,
        help="Schemes whose callers may create tokens over HTTP (POST /tokens, /account/tokens); never a token.",
    ),
    "max_lifetime": authhub.Setting(
        "365d", nullable=True,
        help="Longest lifetime a token created over HTTP may have (and its default when lifetime is longer or "
        "empty); empty = no bound, 'never' allowed.",
    ),
}

_DURATION = re.compile(r"\s*(\d+)\s*([smhdw])\s*", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
NEVER = ("never", "none")


def parse_duration(text: str) -> dt.timedelta | None:
    """``"30d"`` -> 30 days; ``"never"`` -> ``None``. Raises :class:`ValueError` with a readable message."""
    if text.strip().lower() in NEVER:
        return None
    match = _DURATION.fullmatch(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration; use a positive number with a unit: 45s, 30m, 12h, 90d, 2w, "
                         "or 'never'")
    try:
        return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration to keep; use 'never' for one that does not end") from None


@attrs.frozen
class TokenSettings:
    """The token section, checked once and turned into the values the code uses."""

    keyword: str
    lifetime: dt.timedelta | None
    max_per_user: int | None
    last_used_interval: dt.timedelta | None
    cache_ttl: float
    cache_size: int
    create_schemes: frozenset[str]
    max_lifetime: dt.timedelta | None

    @classmethod
    def from_section(cls, section: Mapping[str, Any], name: str = "token") -> TokenSettings:
        """Check ``section`` (the scheme's settings, named ``name``); :class:`authhub.ConfigurationError` if wrong."""
        keyword = section["keyword"]
        if not keyword or any(char.isspace() for char in keyword):
            raise authhub.ConfigurationError(f"{name}.keyword: {keyword!r} must be one word")
        try:
            lifetime = parse_duration(section["lifetime"]) if section["lifetime"] is not None else None
        except ValueError as error:
            raise authhub.ConfigurationError(f"{name}.lifetime: {error}") from None
        for key in ("max_per_user", "last_used_interval", "cache_size"):
            if section[key] is not None and section[key] < (1 if key == "max_per_user" else 0):
                raise authhub.ConfigurationError(f"{name}.{key}: {section[key]} is out of range")
        if section["cache_ttl"] < 0:
            raise authhub.ConfigurationError(f"{name}.cache_ttl: {section['cache_ttl']} must not be negative")
        if name in section["create_schemes"]:
            raise authhub.ConfigurationError(
                f"{name}.create_schemes: {name!r} cannot create tokens: a leaked token must not mint more"
            )
        try:
            max_lifetime = parse_duration(section["max_lifetime"]) if section["max_lifetime"] is not None else None
        except ValueError as error:
            raise authhub.ConfigurationError(f"{name}.max_lifetime: {error}") from None
        interval = section["last_used_interval"]
        return cls(
            keyword=keyword,
            lifetime=lifetime,
            max_per_user=section["max_per_user"],
            last_used_interval=dt.timedelta(seconds=interval) if interval is not None else None,
            cache_ttl=float(section["cache_ttl"]),
            cache_size=section["cache_size"],
            create_schemes=frozenset(section["create_schemes"]),
            max_lifetime=max_lifetime,
        )

    @property
    def caching(self) -> bool:
        """Whether verified tokens are kept in memory (``cache_ttl`` and ``cache_size`` both above 0)."""
        return self.cache_ttl > 0 and self.cache_size > 0
