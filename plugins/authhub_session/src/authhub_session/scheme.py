"""The ``session`` scheme of one hub: its sessions, who a session cookie belongs to, and the CSRF rule.

The hub creates one :class:`SessionScheme` (``create_scheme``) and owns it:
the store (the hub's database or Redis), the cookie policy and the
timeouts live on it, checked once when the hub is built. Its
``@authhub.hookimpl`` methods are that hub's hooks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import authhub
from authhub import ConfigurationError, Request, StoreUnavailable, UserInactive
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

    def openapi(self) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": self._cookie_name,
                "description": "authhub-session: the session cookie."}

    def close(self) -> None:
        self.store.close()

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
        session = self.find(session_id)
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
            csrf.check_origin(request, self.trusted_origins)
            csrf.check_token(request, session.csrf_secret)
        self.touch_if_due(session, now)
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
        """A new password or a deactivation ends the user's sessions everywhere (as Django does)."""
        try:
            self.end_all(user.id)
        except StoreUnavailable:
            # The change itself is done; sessions of an inactive user are refused anyway.
            log.error("could not end the sessions of a changed user: session store unavailable")

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

    def touch_if_due(self, session: SessionData, now: dt.datetime) -> None:
        """Record activity, at most once per ``touch_interval``."""
        if now - session.last_seen_at >= self.touch_interval:
            keep_for = min(self.idle_timeout, session.created_at + self.absolute_lifetime - now)
            self.store.touch(session, now, int(keep_for.total_seconds()) + 1)

    def end(self, session_id: str) -> None:
        """End the session a cookie value names (nothing happens for a malformed or unknown one)."""
        if looks_like_session_id(session_id):
            self.store.delete(session_id_digest(session_id))

    def end_all(self, user_id: object) -> int:
        """End every session of the user with this id (on every server sharing the store); return how many."""
        return self.store.delete_user(str(user_id))

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
