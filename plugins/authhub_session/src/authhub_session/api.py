"""Logging in and out, for applications and the login pages.

``login`` and ``logout`` return the header lines the response must carry
(``Set-Cookie``); the application adds them to whatever it answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authhub import Request
from authhub_session import csrf
from authhub_session.scheme import SESSION_STATE, current_session, drop_pending_cookie_lines
from authhub_session.sessions import sessions_of

if TYPE_CHECKING:
    from authhub import AuthHub

Header = tuple[str, str]


def login(request: Request, user: Any) -> list[Header]:
    """Start a new session for ``user`` and return the ``Set-Cookie`` line for it.

    The session id is new every time (no session fixation); a session the
    request still carries ends. The caller checked the user's credentials.
    """
    hub = _hub_of(request)
    sessions = sessions_of(hub)
    previous = request.cookies.get(sessions.cookie.name)
    if previous is not None:
        sessions.end(previous)
    session_id, session = sessions.start(user)
    drop_pending_cookie_lines(request, sessions)
    request.state[SESSION_STATE] = session
    return [sessions.cookie.set_cookie(session_id, sessions.cookie_max_age, request)]


def logout(request: Request) -> list[Header]:
    """End the request's session on the server and return the line that clears its cookie."""
    sessions = sessions_of(_hub_of(request))
    session_id = request.cookies.get(sessions.cookie.name)
    if session_id is not None:
        sessions.end(session_id)
    request.state.pop(SESSION_STATE, None)
    drop_pending_cookie_lines(request, sessions)
    return [sessions.cookie.clear_cookie(request)]


def logout_all(hub: AuthHub, user: Any) -> int:
    """End every session of ``user`` (on every server sharing the store); return how many."""
    return sessions_of(hub).end_all(user.id)


def csrf_token(request: Request) -> str | None:
    """A CSRF token for the request's session, to put into a page or hand to a script.

    It changes on every call (it is masked) and stays valid for the whole
    session. ``None`` when the session scheme did not authenticate the request.
    """
    session = current_session(request)
    return None if session is None else csrf.mask(session.csrf_secret)


def _hub_of(request: Request) -> AuthHub:
    if request.hub is None:
        raise RuntimeError("This request is not bound to an AuthHub.")
    return request.hub
