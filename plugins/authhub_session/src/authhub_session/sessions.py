"""The sessions of one hub: starting, finding, expiring and ending them.

:func:`sessions_of` gives each hub one :class:`Sessions`, built from the
scheme's settings on first use, with the store the settings choose.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authhub import ConfigurationError, Setting
from authhub.users import SQLUserStore
from authhub_session import csrf
from authhub_session.cookies import CookiePolicy, looks_like_session_id
from authhub_session.stores import RedisSessionStore, SessionData, SessionStore, SQLSessionStore, utcnow

if TYPE_CHECKING:
    from authhub import AuthHub

#: The scheme's name: its entry point and its settings section.
SCHEME = "session"

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
}


def session_id_digest(session_id: str) -> str:
    """What the store keeps instead of the session id: its SHA-256, hex."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


class Sessions:
    """Sessions of one hub, under one set of settings.

    :param store: where the sessions are kept.
    :param settings: the scheme's settings section.
    """

    def __init__(self, store: SessionStore, settings: Mapping[str, Any]) -> None:
        for key in ("idle_timeout", "absolute_lifetime"):
            if settings[key] <= 0:
                raise ConfigurationError(f"session.{key}: must be a positive number of seconds")
        if settings["touch_interval"] < 0:
            raise ConfigurationError("session.touch_interval: must not be negative")
        self.store = store
        self.settings = settings
        self.cookie = CookiePolicy.from_settings(settings)
        self.login_cookie = CookiePolicy(f"{self.cookie.name}_login", self.cookie.path, self.cookie.domain,
                                         "Strict", self.cookie.always_secure)
        self.idle_timeout = dt.timedelta(seconds=settings["idle_timeout"])
        self.absolute_lifetime = dt.timedelta(seconds=settings["absolute_lifetime"])
        self.touch_interval = dt.timedelta(seconds=settings["touch_interval"])
        self.trusted_origins = tuple(settings["trusted_origins"])

    def start(self, user: Any) -> tuple[str, SessionData]:
        """A new session for ``user``: ``(session id for the cookie, stored data)``."""
        session_id = secrets.token_urlsafe(32)
        now = utcnow()
        session = SessionData(session_id_digest(session_id), user.id, csrf.new_secret(), now, now)
        self.store.add(session, int(min(self.idle_timeout, self.absolute_lifetime).total_seconds()) + 1)
        return session_id, session

    def find(self, session_id: str) -> SessionData | None:
        """The stored session for a cookie value, ``None`` for a malformed or unknown one."""
        if not looks_like_session_id(session_id):
            return None
        return self.store.get(session_id_digest(session_id))

    def is_live(self, session: SessionData, now: dt.datetime) -> bool:
        return (now - session.last_seen_at < self.idle_timeout
                and now - session.created_at < self.absolute_lifetime)

    def touch_if_due(self, session: SessionData, now: dt.datetime) -> None:
        """Record activity, at most once per ``touch_interval``."""
        if now - session.last_seen_at >= self.touch_interval:
            keep_for = min(self.idle_timeout, session.created_at + self.absolute_lifetime - now)
            self.store.touch(session, now, int(keep_for.total_seconds()) + 1)

    def end(self, session_id: str) -> None:
        """End the session a cookie value names (nothing happens for a malformed or unknown one)."""
        if looks_like_session_id(session_id):
            self.store.delete(session_id_digest(session_id))

    def end_all(self, user_id: Any) -> int:
        return self.store.delete_user(user_id)

    def purge(self, now: dt.datetime | None = None) -> int:
        """Delete every session that has expired; return how many."""
        now = now or utcnow()
        return self.store.purge(now - self.idle_timeout, now - self.absolute_lifetime)

    @property
    def cookie_max_age(self) -> int:
        return self.settings["absolute_lifetime"]


_by_hub: weakref.WeakKeyDictionary[AuthHub, Sessions] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def sessions_of(hub: AuthHub, settings: Mapping[str, Any] | None = None) -> Sessions:
    """The :class:`Sessions` of ``hub``, built on first use and rebuilt when its settings change."""
    if settings is None:
        settings = hub.settings.section(SCHEME)
    sessions = _by_hub.get(hub)
    if sessions is not None and sessions.settings is settings:
        return sessions
    with _lock:
        sessions = _by_hub.get(hub)
        if sessions is None or sessions.settings is not settings:
            sessions = Sessions(_store_for(hub, settings), settings)
            _by_hub[hub] = sessions
        return sessions


def _store_for(hub: AuthHub, settings: Mapping[str, Any]) -> SessionStore:
    url = settings["redis_url"]
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError("session.redis_url: expected a redis://, rediss:// or unix:// URL")
        try:
            return RedisSessionStore(url, prefix=settings["redis_prefix"])
        except ImportError:
            raise ConfigurationError(
                "session.redis_url is set but redis-py is not installed: pip install 'authhub-session[redis]'"
            ) from None
    # A proxy: the hub keeps its Sessions (weakly keyed); a strong reference back would keep the hub alive.
    return SQLSessionStore(weakref.proxy(hub), join_users=type(hub.users) is SQLUserStore)
