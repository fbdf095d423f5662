"""The login pages of ``authhub serve``: ``/login``, ``/logout`` and ``/``.

The login form is protected against login CSRF with a pre-session token:
``GET /login`` sets a random value in a ``<cookie>_login`` cookie and puts
a masked copy into the form; ``POST /login`` needs both to match, and the
``Origin`` to be the site's own.

The pages are the templates ``login.html`` and ``index.html`` of this
package (``hub.pages``: an application's ``templates_dir`` may replace them).
"""

from __future__ import annotations

import functools
import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from authhub import (
    AuthenticationFailed,
    AuthHub,
    Outcome,
    PermissionDenied,
    Request,
    Response,
    Route,
    TooManyRequests,
)
from authhub_session import csrf
from authhub_session.api import csrf_token, login, logout
from authhub_session.cookies import looks_like_session_id
from authhub_session.scheme import SessionScheme

PACKAGE = "authhub_session"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"


def routes(sessions: SessionScheme) -> list[Route]:
    """The pages of one hub's session scheme."""
    return [
        Route("/", home, ("GET", "HEAD")),
        Route(LOGIN_PATH, functools.partial(login_page, sessions), ("GET", "HEAD", "POST")),
        Route(LOGOUT_PATH, functools.partial(logout_page, sessions), ("POST",)),
    ]


# -- handlers ----------------------------------------------------------------------


def home(request: Request) -> Response:
    """Who you are, with a logout button; or a link to the login page."""
    identity = request.identity
    if not identity.is_authenticated:
        return _page(request, "index.html", {"title": "Not signed in", "username": None, "scheme": None,
                                             "csrf_token": None})
    return _page(request, "index.html", {
        "title": "Signed in", "username": str(getattr(identity.user, "username", identity.user)),
        "scheme": identity.scheme or "", "csrf_token": csrf_token(request),
    })


def login_page(sessions: SessionScheme, request: Request) -> Response:
    if request.method == "POST":
        return _submit_login(request, sessions)
    return _login_form(request, sessions, _safe_next(request.query.get("next")))


def logout_page(sessions: SessionScheme, request: Request) -> Response:
    """End the session (the session scheme checked the CSRF token); go to the form's ``next`` or home.

    The consent page's "Not you?" sends ``next`` back to the authorization
    request, so that another user can sign in for it.
    """
    hub = _hub(request)
    identity = hub.authenticate(request, [sessions.name])
    headers = logout(request) if identity.is_authenticated else []
    return hub.pages.redirect(_safe_next(request.form().get("next")), headers=headers)


# -- login ---------------------------------------------------------------------------


def _submit_login(request: Request, sessions: SessionScheme) -> Response:
    _check_login_csrf(request, sessions)
    form = request.form()
    next_path = _safe_next(form.get("next"))
    username, password = form.get("username", ""), form.get("password", "")
    if "\x00" in username or "\x00" in password:
        # No database stores a NUL: refused before any lookup (and not a guess: nothing was checked).
        return _login_form(request, sessions, next_path, "The username or password contains a NUL character.", 400)
    if not username or not password:
        return _login_form(request, sessions, next_path, "Enter your username and password.", 400, username)
    hub = _hub(request)
    # The same subject as the basic scheme's: guesses count together whichever way they come.
    subject = f"user:{username}"
    try:
        hub.lockout.check(request, subject)
    except TooManyRequests as error:
        hub.observe(Outcome("locked", request, "session", None, error))
        response = _login_form(request, sessions, next_path, error.detail, 429, username)
        response.headers.extend(error.headers.items())
        return response
    try:
        user = hub.users.check_password(username, password)
    except AuthenticationFailed as error:
        hub.lockout.failed(request, subject)
        hub.observe(Outcome("refused", request, "session", None, error))
        return _login_form(request, sessions, next_path, error.detail, 200, username)
    hub.lockout.succeeded(request, subject)
    hub.observe(Outcome("authenticated", request, "session", user))
    headers = login(request, user)
    headers.append(sessions.login_cookie.clear_cookie(request))
    return hub.pages.redirect(next_path, headers=headers)


def _check_login_csrf(request: Request, sessions: SessionScheme) -> None:
    csrf.check_origin(request, sessions.trusted_origins)
    secret = request.cookies.get(sessions.login_cookie.name)
    if secret is None or not looks_like_session_id(secret):
        raise PermissionDenied("CSRF Failed: CSRF cookie not set.")
    csrf.check_token(request, secret)


def _login_form(request: Request, sessions: SessionScheme, next_path: str, error: str | None = None,
                status: int = 200, username: str = "") -> Response:
    secret = request.cookies.get(sessions.login_cookie.name)
    new_cookie = []
    if secret is None or not looks_like_session_id(secret):
        secret = secrets.token_urlsafe(32)
        new_cookie.append(sessions.login_cookie.set_cookie(secret, None, request))
    response = _page(request, "login.html", {
        "title": "Sign in", "error": error, "username": username, "next": next_path,
        "csrf_token": csrf.mask(secret),
    }, status)
    response.headers.extend(new_cookie)
    return response


def _safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site, else ``/`` (no open redirect).

    Characters outside ASCII are percent-encoded (UTF-8): a ``Location``
    header holds Latin-1 at most, and a browser could read a lookalike such
    as ``/\u2215\u2215evil.example`` (DIVISION SLASH) as ``//evil.example``.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    # Browsers read '\' as '/', so '/\evil.example' would leave the site.
    if "\\" in value or not value.isprintable():
        return "/"
    value = quote(value, safe=_ASCII_PRINTABLE)
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


#: Every printable ASCII character: :func:`quote` leaves them alone and encodes the rest.
_ASCII_PRINTABLE = "".join(chr(code) for code in range(0x21, 0x7F))


# -- pages ------------------------------------------------------------------------------


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """``template`` with the names every page of this package has (the form field, the paths)."""
    names = {"csrf_field": csrf.FORM_FIELD, "action": LOGIN_PATH, "login_url": LOGIN_PATH,
             "logout_url": LOGOUT_PATH}
    return _hub(request).pages.render(template, {**names, **context}, package=PACKAGE, status=status)


def _hub(request: Request) -> AuthHub:
    assert request.hub is not None  # the reference server binds every request
    return request.hub
