"""Logging in and out, for applications and the login pages.

Each function finds the session scheme of the request's hub
(:meth:`authhub.AuthHub.find_scheme`). ``login`` and ``logout`` return the
header lines the response must carry (``Set-Cookie``); the application
adds them to whatever it answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authhub import Request
from authhub_session import csrf
from authhub_session.scheme import Header, SessionScheme, current_session

if TYPE_CHECKING:
    from authhub import AuthHub


def login(request: Request, user: Any) -> list[Header]:
    """Start a new session for ``user`` and return the ``Set-Cookie`` line for it.

    The session id is new every time (no session fixation); a session the
    request still carries ends. The caller checked the user's credentials.
    """
    return _scheme_of(request).login(request, user)


def logout(request: Request) -> list[Header]:
    """End the request's session on the server and return the line that clears its cookie."""
    return _scheme_of(request).logout(request)


def logout_all(hub: AuthHub, user: Any) -> int:
    """End every session of ``user`` (on every server sharing the store); return how many."""
    return hub.find_scheme(SessionScheme).end_all(user.id)


def csrf_token(request: Request) -> str | None:
    """A CSRF token for the request's session, to put into a page or hand to a script.

    It changes on every call (it is masked) and stays valid for the whole
    session. ``None`` when the session scheme did not authenticate the request.
    """
    session = current_session(request)
    return None if session is None else csrf.mask(session.csrf_secret)


def _scheme_of(request: Request) -> SessionScheme:
    if request.hub is None:
        raise RuntimeError("This request is not bound to an AuthHub.")
    return request.hub.find_scheme(SessionScheme)
