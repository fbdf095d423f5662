"""The ``session`` scheme's settings, and the checked values a hub's scheme object keeps.

A hub never changes once built, so the section is checked once, when the
hub creates its :class:`~authhub_session.scheme.SessionScheme`; the
request path only reads the values of :class:`SessionSettings`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from authhub import ConfigurationError, Setting
from authhub_session.cookies import CookiePolicy

SETTINGS: dict[str, Setting] = {
    "cookie_name": Setting("authhub_session", help="Name of the session cookie."),
    "cookie_path": Setting("/", help="Path attribute of the session cookie."),
    "cookie_domain": Setting(None, nullable=True, help="Domain attribute of the session cookie (unset: host only)."),
    "cookie_samesite": Setting("Lax", help="SameSite attribute: Lax, Strict or None (None implies Secure)."),
    "cookie_secure": Setting(False, kind=bool,
                             help="Always mark the cookie Secure (it is anyway on HTTPS requests)."),
    "idle_timeout": Setting(1800, kind=int, help="Seconds without a request after which a session ends."),
    "absolute_lifetime": Setting(43200, kind=int, help="Seconds after login after which a session ends."),
    "touch_interval": Setting(60, kind=int,
                              help="Record activity at most this often (seconds); saves a write per request."),
    "redis_url": Setting(None, nullable=True, help="redis:// URL to keep sessions in Redis instead of the database."),
    "redis_prefix": Setting("authhub:session:", help="Prefix of every Redis key the store writes."),
    "trusted_origins": Setting([], kind=list,
                               help="Other origins (https://app.example.com) allowed to send unsafe requests."),
    "cache_ttl": Setting(
        60.0, kind=float,
        help="Keep verified sessions in memory at most this many seconds (0 = off). A logout or a user change "
             "reaches every process through the invalidation channel at once; this is only the safety net.",
    ),
    "cache_size": Setting(10_000, kind=int, help="Most sessions the in-memory cache holds (0 = off)."),
}

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@attrs.frozen
class SessionSettings:
    """The scheme's section, checked and turned into the values the scheme uses."""

    cookie: CookiePolicy
    #: The pre-session cookie of the login form (``<cookie name>_login``, always ``SameSite=Strict``).
    login_cookie: CookiePolicy
    idle_timeout: dt.timedelta
    absolute_lifetime: dt.timedelta
    touch_interval: dt.timedelta
    #: The session cookie's ``Max-Age``: the absolute lifetime, in seconds.
    cookie_max_age: int
    trusted_origins: tuple[str, ...]
    redis_url: str | None
    redis_prefix: str
    #: Seconds a verified session is kept in memory; 0 when the cache is off.
    cache_ttl: float
    cache_size: int

    @property
    def caching(self) -> bool:
        """Whether verified sessions are kept in memory (``cache_ttl`` and ``cache_size`` both above 0)."""
        return self.cache_ttl > 0 and self.cache_size > 0

    @classmethod
    def from_section(cls, section: Mapping[str, Any], name: str = "session") -> SessionSettings:
        """Check ``section`` (the plugin ``name``'s settings); :class:`authhub.ConfigurationError` names a bad key."""
        for key in ("idle_timeout", "absolute_lifetime"):
            if section[key] <= 0:
                raise ConfigurationError(f"{name}.{key}: must be a positive number of seconds")
        for key in ("touch_interval", "cache_ttl", "cache_size"):
            if section[key] < 0:
                raise ConfigurationError(f"{name}.{key}: must not be negative")
        redis_url = section["redis_url"] or None
        if redis_url is not None and not redis_url.startswith(_REDIS_SCHEMES):
            raise ConfigurationError(f"{name}.redis_url: expected a redis://, rediss:// or unix:// URL")
        cookie = CookiePolicy.from_settings(section, name)
        return cls(
            cookie=cookie,
            login_cookie=CookiePolicy(f"{cookie.name}_login", cookie.path, cookie.domain, "Strict",
                                      cookie.always_secure),
            idle_timeout=dt.timedelta(seconds=section["idle_timeout"]),
            absolute_lifetime=dt.timedelta(seconds=section["absolute_lifetime"]),
            touch_interval=dt.timedelta(seconds=section["touch_interval"]),
            cookie_max_age=section["absolute_lifetime"],
            trusted_origins=tuple(section["trusted_origins"]),
            redis_url=redis_url,
            redis_prefix=section["redis_prefix"],
            cache_ttl=float(section["cache_ttl"]),
            cache_size=section["cache_size"],
        )
