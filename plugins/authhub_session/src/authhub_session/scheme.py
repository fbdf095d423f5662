"""The ``session`` scheme: who the session cookie belongs to, and the CSRF rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authhub import AuthenticationFailed, Request
from authhub.request import RESPONSE_HEADERS
from authhub.users import INACTIVE
from authhub_session import csrf
from authhub_session.cookies import looks_like_session_id
from authhub_session.sessions import Sessions, sessions_of
from authhub_session.stores import SessionData, utcnow

if TYPE_CHECKING:
    from authhub import AuthHub

#: ``request.state`` key of the :class:`SessionData` that authenticated the request.
SESSION_STATE = "authhub_session.session"


def authenticate(request: Request, settings: Mapping[str, Any], hub: AuthHub) -> tuple[Any, None] | None:
    """``(user, None)`` for a live session cookie; ``None`` without one.

    A malformed, unknown or expired cookie counts as no session, and the
    response clears it. A session whose user is gone or inactive ends,
    and the request is refused. Unsafe methods must pass the CSRF checks
    (:class:`authhub.PermissionDenied` otherwise).
    """
    sessions = sessions_of(hub, settings)
    session_id = session_cookie(request, sessions.cookie.name)
    if session_id is None:
        return None
    session = sessions.find(session_id)
    now = utcnow()
    if session is not None and not sessions.is_live(session, now):
        sessions.store.delete(session.digest)
        session = None
    if session is None:
        clear_cookie_on_response(request, sessions)
        return None
    user = session.user if session.user is not None else hub.users.get(session.user_id)
    if user is None or not getattr(user, "is_active", True):
        sessions.store.delete(session.digest)
        clear_cookie_on_response(request, sessions)
        raise AuthenticationFailed(INACTIVE)
    if not request.is_safe_method:
        csrf.check_origin(request, sessions.trusted_origins)
        csrf.check_token(request, session.csrf_secret)
    sessions.touch_if_due(session, now)
    request.state[SESSION_STATE] = session
    return user, None


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


def clear_cookie_on_response(request: Request, sessions: Sessions) -> None:
    """Ask the middleware to clear the session cookie on whatever response this request gets."""
    request.state.setdefault(RESPONSE_HEADERS, []).append(sessions.cookie.clear_cookie(request))


def drop_pending_cookie_lines(request: Request, sessions: Sessions) -> None:
    """Forget session-cookie lines queued for the response (a login or logout replaces them)."""
    pending = request.state.get(RESPONSE_HEADERS)
    if pending:
        pending[:] = [line for line in pending if not sessions.cookie.is_own(line)]


def current_session(request: Request) -> SessionData | None:
    """The session that authenticated ``request``, if the session scheme did."""
    return request.state.get(SESSION_STATE)
