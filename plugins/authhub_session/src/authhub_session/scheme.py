"""The ``session`` scheme of one hub: its sessions, who a session cookie belongs to, and the CSRF rule.

The hub creates one :class:`SessionScheme` (``create_scheme``) and owns it:
the store (the hub's database or Redis), the cookie policy, the timeouts
and the cache of verified sessions live on it, checked once when the hub
is built. Its ``@authhub.hookimpl`` methods are that hub's hooks.

The cache keeps a verified session (the stored data and its user, by the
digest of the session id) while the invalidation channel is current. An
entry lives until the session's next activity record is due, so a session
is read from the store again at least once per ``touch_interval``: another
process may have recorded activity meanwhile, so a session that only looks
idle by the cached times is read again, never ended on their word. A
logout is announced as ``("session", digest)``, the end of all of a
user's sessions as ``("user", id)``; every hub on the store drops those
entries. CSRF is checked on every unsafe request, hit or not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

import authhub
from authhub import ConfigurationError, Request, StoreUnavailable, TTLCache, UserInactive
from authhub_session import csrf
from authhub_session.cookies import looks_like_session_id
from authhub_session.settings import SessionSettings
from authhub_session.stores import RedisSessionStore, SessionData, SessionStore, SQLSessionStore, utcnow

if TYPE_CHECKING:
    from authhub import AuthHub, Route

log = logging.getLogger("authhub.session")

#: ``request.state`` key of the :class:`SessionData` that authenticated the request.
SESSION_STATE = "authhub_session.session"

Header = tuple[str, str]
#: What the cache keeps for a session digest: the session as last read or touched, and its user.
Verified = tuple[SessionData, Any]


def session_id_digest(session_id: str) -> str:
    """What the store keeps instead of the session id: its SHA-256, hex."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


class SessionScheme(authhub.Scheme):
    """Server-side cookie sessions of one hub.

    :param hub: the hub that owns the object.
    :param name: the scheme's name in that hub (``session``).
    :param settings: the scheme's settings section.
    :raises authhub.ConfigurationError: a setting that cannot work.
    """

    position = 400

    def __init__(self, hub: AuthHub, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(hub, name, settings)
        config = SessionSettings.from_section(settings, name)
        self.config = config
        self.cookie = config.cookie
        self.login_cookie = config.login_cookie
        self.idle_timeout = config.idle_timeout
        self.absolute_lifetime = config.absolute_lifetime
        self.touch_interval = config.touch_interval
        self.cookie_max_age = config.cookie_max_age
        self.trusted_origins = config.trusted_origins
        self._cookie_name = config.cookie.name
        #: A new session need not be kept longer than this (seconds) unless it is used.
        self._keep_new = int(min(config.idle_timeout, config.absolute_lifetime).total_seconds()) + 1
        self.store: SessionStore = _store_for(hub, config, name)
        #: Verified sessions by digest (never the id); ``None`` when ``cache_ttl`` or ``cache_size`` is 0.
        self.cache: TTLCache[str, Verified] | None = (
            TTLCache(config.cache_ttl, config.cache_size) if config.caching else None
        )
        #: How long a cached session answers without the store: until its next activity record is due.
        self._fresh_for = min(config.touch_interval, config.idle_timeout)
        # The built-in store announces every change of a user (hub.user_changed -> ("user", id)), so a
        # cached user stands. An application's own store changes behind authhub's back and tells
        # nobody: a hit reads the user from it again, as a request without the cache would.
        self._users_announce = isinstance(hub.users, authhub.SQLUserStore)

    def openapi(self) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": self._cookie_name,
                "description": "authhub-session: the session cookie."}

    def close(self) -> None:
        self.store.close()
        if self.cache is not None:
            self.cache.clear()

    # -- hooks of this hub -----------------------------------------------------------

    @authhub.hookimpl
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        """``(user, None)`` for a live session cookie; ``None`` without one.

        A malformed, unknown or expired cookie counts as no session, and the
        response clears it. A session whose user is gone or inactive ends,
        and the request is refused. Unsafe methods must pass the CSRF checks
        (:class:`authhub.PermissionDenied` otherwise).
        """
        session_id = session_cookie(request, self._cookie_name)
        if session_id is None:
            return None
        if not looks_like_session_id(session_id):
            self._clear_cookie_on_response(request)
            return None
        digest = session_id_digest(session_id)
        cache = self._usable_cache()
        if cache is None:
            return self._from_store(request, digest, None, 0)
        cached = cache.get(digest)
        if cached is not None:
            session, user = cached
            if not self._users_announce:
                user = self.hub.users.get(session.user_id)
            if user is not None and user.is_active:
                return self._admit(request, session, user)
            # gone or inactive in the application's store: the store path ends the session
        # The generation is taken before the read: a logout meanwhile wins.
        return self._from_store(request, digest, cache, cache.generation)

    @authhub.hookimpl
    async def aauthenticate(self, request: Request) -> tuple[Any, None] | None:
        """The ASGI form: no cookie and a cache hit are answered on the event loop; the rest in a thread."""
        session_id = session_cookie(request, self._cookie_name)
        if session_id is None:
            return None
        cache = self._usable_cache()
        if cache is not None and self._users_announce and looks_like_session_id(session_id):
            cached = cache.get(session_id_digest(session_id))
            if cached is not None:
                return self._admit(request, *cached)
        return await asyncio.to_thread(self.authenticate, request)

    def _usable_cache(self) -> TTLCache[str, Verified] | None:
        """The cache while it can be trusted: only while the invalidation channel is current (fail closed)."""
        cache = self.cache
        return cache if cache is not None and self.hub.changes.current else None

    def _admit(self, request: Request, session: SessionData, user: Any) -> tuple[Any, None]:
        """Let a verified session's request through: the CSRF rule on unsafe methods, then ``(user, None)``."""
        if not request.is_safe_method:
            self._check_csrf(request, session)
        request.state[SESSION_STATE] = session
        return user, None

    def _check_csrf(self, request: Request, session: SessionData) -> None:
        csrf.check_origin(request, self.trusted_origins)
        csrf.check_token(request, session.csrf_secret)

    def _from_store(self, request: Request, digest: str, cache: TTLCache[str, Verified] | None,
                    generation: int) -> tuple[Any, None] | None:
        """Read the session from the store and decide (and keep the answer when there is a cache)."""
        session = self.store.get(digest)
        now = utcnow()
        if session is not None and not self.is_live(session, now):
            self.store.delete(session.digest)
            session = None
        if session is None:
            self._clear_cookie_on_response(request)
            return None
        user = session.user if session.user is not None else self.hub.users.get(session.user_id)
        if user is None or not user.is_active:
            self.store.delete(session.digest)
            self._clear_cookie_on_response(request)
            raise UserInactive()
        if not request.is_safe_method:
            self._check_csrf(request, session)
        session = self.touch_if_due(session, now)
        if cache is not None:
            # Fresh until the next activity record is due (or the lifetime ends): then the store again.
            fresh_until = min(session.last_seen_at + self._fresh_for, session.created_at + self.absolute_lifetime)
            if fresh_until > now:
                cache.put(digest, (session, user), generation, expires_at=fresh_until.timestamp())
        request.state[SESSION_STATE] = session
        return user, None

    @authhub.hookimpl
    def auth_headers(self, user: Any) -> dict[str, str]:
        """Log ``user`` in: the session cookie and a CSRF token for unsafe requests."""
        session_id, session = self.start(user)
        return {"Cookie": f"{self._cookie_name}={session_id}", "X-CSRF-Token": csrf.mask(session.csrf_secret)}

    @authhub.hookimpl
    def serve_routes(self) -> list[Route]:
        from authhub_session import pages  # it imports this module

        return pages.routes(self)

    @authhub.hookimpl
    def user_changed(self, user: Any) -> None:
        """A new password or a deactivation ends the user's sessions everywhere (as Django does).

        The hub announces ``("user", id)`` itself right after this hook.
        """
        try:
            self.store.delete_user(str(user.id))
        except StoreUnavailable:
            # The change itself is done; sessions of an inactive user are refused anyway.
            log.error("could not end the sessions of a changed user: session store unavailable")

    @authhub.hookimpl
    def invalidated(self, kind: str, key: str) -> None:
        """Drop cached sessions: ``("session", digest)`` after a logout, ``("user", id)`` after a user change."""
        cache = self.cache
        if cache is None:
            return
        if kind == "session":
            cache.discard(lambda verified: verified[0].digest == key)
        elif kind == "user":
            cache.discard(lambda verified: verified[0].user_id == key)
        elif kind == "*":  # the channel lost track of announcements: drop everything
            cache.clear()

    # -- sessions ----------------------------------------------------------------------

    def start(self, user: Any) -> tuple[str, SessionData]:
        """A new session for ``user``: ``(session id for the cookie, stored data)``."""
        session_id = secrets.token_urlsafe(32)
        now = utcnow()
        session = SessionData(session_id_digest(session_id), str(user.id), csrf.new_secret(), now, now)
        self.store.add(session, self._keep_new)
        return session_id, session

    def find(self, session_id: str) -> SessionData | None:
        """The stored session for a cookie value, ``None`` for a malformed or unknown one."""
        if not looks_like_session_id(session_id):
            return None
        return self.store.get(session_id_digest(session_id))

    def is_live(self, session: SessionData, now: dt.datetime) -> bool:
        return (now - session.last_seen_at < self.idle_timeout
                and now - session.created_at < self.absolute_lifetime)

    def touch_if_due(self, session: SessionData, now: dt.datetime) -> SessionData:
        """Record activity, at most once per ``touch_interval``; the session as it now stands."""
        if now - session.last_seen_at < self.touch_interval:
            return session
        keep_for = min(self.idle_timeout, session.created_at + self.absolute_lifetime - now)
        self.store.touch(session, now, int(keep_for.total_seconds()) + 1)
        return attrs.evolve(session, last_seen_at=now)

    def end(self, session_id: str) -> None:
        """End the session a cookie value names, in every process (nothing happens for a malformed one).

        :raises authhub.StoreUnavailable: the store or the invalidation channel could not be reached.
        """
        if looks_like_session_id(session_id):
            digest = session_id_digest(session_id)
            self.store.delete(digest)
            self.hub.invalidate("session", digest)

    def end_all(self, user_id: object) -> int:
        """End every session of the user with this id, in every process; return how many there were."""
        ended = self.store.delete_user(str(user_id))
        self.hub.invalidate("user", str(user_id))
        return ended

    def purge(self, now: dt.datetime | None = None) -> int:
        """Delete every session that has expired; return how many."""
        now = now or utcnow()
        return self.store.purge(now - self.idle_timeout, now - self.absolute_lifetime)

    # -- the cookie on a response --------------------------------------------------------

    def login(self, request: Request, user: Any) -> list[Header]:
        """Start a new session for ``user``; the ``Set-Cookie`` line for it (see :func:`authhub_session.login`)."""
        previous = request.cookies.get(self._cookie_name)
        if previous is not None:
            self.end(previous)
        session_id, session = self.start(user)
        self._drop_pending_cookie_lines(request)
        request.state[SESSION_STATE] = session
        return [self.cookie.set_cookie(session_id, self.cookie_max_age, request)]

    def logout(self, request: Request) -> list[Header]:
        """End the request's session; the line that clears its cookie (see :func:`authhub_session.logout`)."""
        session_id = request.cookies.get(self._cookie_name)
        if session_id is not None:
            self.end(session_id)
        request.state.pop(SESSION_STATE, None)
        self._drop_pending_cookie_lines(request)
        return [self.cookie.clear_cookie(request)]

    def _clear_cookie_on_response(self, request: Request) -> None:
        """Clear the session cookie on whatever response this request gets."""
        request.add_response_header(*self.cookie.clear_cookie(request))

    def _drop_pending_cookie_lines(self, request: Request) -> None:
        """Forget session-cookie lines queued for the response (a login or logout replaces them)."""
        pending = request.response_headers
        if pending:
            pending[:] = [line for line in pending if not self.cookie.is_own(line)]


def _store_for(hub: AuthHub, config: SessionSettings, name: str) -> SessionStore:
    if config.redis_url is not None:
        try:
            return RedisSessionStore(config.redis_url, prefix=config.redis_prefix)
        except ImportError:
            raise ConfigurationError(
                f"{name}.redis_url is set but redis-py is not installed: pip install 'authhub-session[redis]'"
            ) from None
        except ValueError:  # redis-py's own message may quote the URL, password and all
            raise ConfigurationError(f"{name}.redis_url: not a valid Redis URL") from None
    return SQLSessionStore(hub.store, join_users=isinstance(hub.users, authhub.SQLUserStore))


def session_cookie(request: Request, name: str) -> str | None:
    """The value of cookie ``name``, as :attr:`Request.cookies` would give it for a session id.

    Parsing every cookie of the header with :mod:`http.cookies` costs more
    than the rest of the scheme together; a session id is plain base64url,
    so finding ``name=`` is enough. Anything unusual goes the full way.
    """
    prefix = name + "="
    for header in request.headers.get_all("cookie"):
        for part in header.split(";"):
            part = part.strip()
            if part.startswith(prefix):
                value = part[len(prefix):]
                return value if looks_like_session_id(value) else request.cookies.get(name)
    return None


def current_session(request: Request) -> SessionData | None:
    """The session that authenticated ``request``, if the session scheme did."""
    session: SessionData | None = request.state.get(SESSION_STATE)
    return session
