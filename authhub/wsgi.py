"""WSGI middleware: every request gets a lazy identity.

The middleware puts an :class:`authhub.Request` bound to the hub into
``environ["authhub.request"]``; the chain runs the first time the
application reads ``request.user``, ``request.auth`` or
``request.identity``. An :class:`authhub.AuthhubError` escaping the
application (wrong credentials found on that first read, a view requiring
authentication) becomes its JSON response with the challenges.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from authhub.errors import AuthhubError, NotAuthenticated
from authhub.http import Response, error_response
from authhub.hub import AuthHub
from authhub.request import RESPONSE_HEADERS, Request

ENVIRON_KEY = "authhub.request"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AuthMiddleware:
    """Wrap a WSGI application so it can ask who sent each request.

    :param app: the WSGI application.
    :param hub: the :class:`AuthHub` whose chain runs.
    """

    def __init__(self, app: WSGIApp, hub: AuthHub) -> None:
        self.app = app
        self.hub = hub

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request.from_wsgi(environ, self.hub)
        environ[ENVIRON_KEY] = request
        start_response = _adding_response_headers(request, start_response)
        try:
            return self.app(environ, start_response)
        except AuthhubError as error:
            return send(error_response(self.hub, request, error, environ.get("authhub.schemes")), start_response)


def _adding_response_headers(request: Request, start_response: Callable[..., Any]) -> Callable[..., Any]:
    """``start_response`` that appends the header lines schemes left in ``request.state``."""

    def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        pending = request.state.get(RESPONSE_HEADERS)
        if pending:
            headers = [*headers, *pending]
        return start_response(status, headers, *exc_info)

    return start


def request_of(environ: dict[str, Any]) -> Request:
    """The :class:`authhub.Request` the middleware put into ``environ``."""
    try:
        request: Request = environ[ENVIRON_KEY]
    except KeyError:
        raise RuntimeError("authhub.wsgi.AuthMiddleware is not installed around this application") from None
    return request


def login_required(app: WSGIApp | None = None, *, schemes: Sequence[str] | None = None) -> Any:
    """Refuse anonymous requests to a WSGI application (401 with challenges, or 403).

    ``schemes`` gives this application its own chain instead of the hub's.
    Use as ``@login_required`` or ``@login_required(schemes=["token"])``.
    """
    if app is None:
        return functools.partial(login_required, schemes=schemes)

    @functools.wraps(app)
    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = request_of(environ)
        if schemes is not None:
            environ["authhub.schemes"] = list(schemes)
            assert request.hub is not None  # the middleware binds every request to its hub
            request.identity = request.hub.authenticate(request, schemes)
        if not request.identity.is_authenticated:
            raise NotAuthenticated()
        return app(environ, start_response)

    return wrapper


def send(response: Response, start_response: Callable[..., Any]) -> list[bytes]:
    """Start ``response`` on a WSGI server and return its body."""
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    start_response(response.status_line, headers)
    return [response.body]
