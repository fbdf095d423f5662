"""The login pages of ``authhub serve``: ``/login``, ``/logout`` and ``/``.

The login form is protected against login CSRF with a pre-session token:
``GET /login`` sets a random value in a ``<cookie>_login`` cookie and puts
a masked copy into the form; ``POST /login`` needs both to match, and the
``Origin`` to be the site's own.
"""

from __future__ import annotations

import functools
import html
import secrets
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

#: Pages hold tokens: never cache them, never frame them.
PAGE_HEADERS = (
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def routes(sessions: SessionScheme) -> list[Route]:
    """The pages of one hub's session scheme."""
    return [
        Route("/", home, ("GET", "HEAD")),
        Route("/login", functools.partial(login_page, sessions), ("GET", "HEAD", "POST")),
        Route("/logout", functools.partial(logout_page, sessions), ("POST",)),
    ]


# -- handlers ----------------------------------------------------------------------


def home(request: Request) -> Response:
    """Who you are, with a logout button; or a link to the login page."""
    identity = request.identity
    if not identity.is_authenticated:
        return _page("Not signed in", '<p>You are not signed in.</p><p><a href="/login">Sign in</a></p>')
    name = html.escape(str(getattr(identity.user, "username", identity.user)))
    token = csrf_token(request)
    body = f'<p>Signed in as <strong id="username">{name}</strong> (scheme {html.escape(identity.scheme or "")}).</p>'
    if token is not None:
        body += (f'<form method="post" action="/logout">{_hidden(csrf.FORM_FIELD, token)}'
                 '<button type="submit">Sign out</button></form>')
    return _page("Signed in", body, meta_token=token)


def login_page(sessions: SessionScheme, request: Request) -> Response:
    if request.method == "POST":
        return _submit_login(request, sessions)
    return _login_form(request, sessions, _safe_next(request.query.get("next")))


def logout_page(sessions: SessionScheme, request: Request) -> Response:
    """End the session (the session scheme checked the CSRF token) and go home."""
    identity = _hub(request).authenticate(request, [sessions.name])
    headers = logout(request) if identity.is_authenticated else []
    return Response.redirect("/", headers=[*headers, *PAGE_HEADERS])


# -- login ---------------------------------------------------------------------------


def _submit_login(request: Request, sessions: SessionScheme) -> Response:
    _check_login_csrf(request, sessions)
    form = request.form()
    next_path = _safe_next(form.get("next"))
    username, password = form.get("username", ""), form.get("password", "")
    if not username or not password:
        return _login_form(request, sessions, next_path, "Enter your username and password.", 400)
    if "\x00" in username or "\x00" in password:
        # No database stores a NUL: refused before any lookup (and not a guess: nothing was checked).
        return _login_form(request, sessions, next_path, "The username or password contains a NUL character.", 400)
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
    return Response.redirect(next_path, headers=[*headers, *PAGE_HEADERS])


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
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = (
        f"{message}"
        '<form method="post" action="/login">'
        f"{_hidden(csrf.FORM_FIELD, csrf.mask(secret))}{_hidden('next', next_path)}"
        '<p><label>Username <input name="username" autocomplete="username" required '
        f'value="{html.escape(username)}"></label></p>'
        '<p><label>Password <input name="password" type="password" autocomplete="current-password" '
        "required></label></p>"
        '<p><button type="submit">Sign in</button></p></form>'
    )
    response = _page("Sign in", body, status=status)
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


# -- HTML ------------------------------------------------------------------------------


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'


def _page(title: str, body: str, *, status: int = 200, meta_token: str | None = None) -> Response:
    meta = f'<meta name="csrf-token" content="{html.escape(meta_token)}">' if meta_token else ""
    text = (
        "<!doctype html>"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} - authhub</title>{meta}</head>'
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response.html(text, status, PAGE_HEADERS)


def _hub(request: Request) -> AuthHub:
    assert request.hub is not None  # the reference server binds every request
    return request.hub
