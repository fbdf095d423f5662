"""Flask integration: ``FlaskAuth(app)``, ``current_user`` and ``@login_required``.

``FlaskAuth(app, hub=hub)`` (or ``FlaskAuth().init_app(app)`` in an
application factory) binds a hub to the application. The chain runs the
first time a view reads :data:`current_user`, :data:`current_auth` or
:data:`current_identity`, once per request, as in the core's WSGI
middleware. An :class:`authhub.AuthhubError` raised while handling the
request (wrong credentials, a view that requires a user) becomes the
core's JSON refusal: 401 with one ``WWW-Authenticate`` line per scheme of
the chain, 403 when none has a challenge.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import flask
from werkzeug.local import LocalProxy

from authhub.errors import AuthhubError, NotAuthenticated
from authhub.http import error_response
from authhub.hub import AuthHub
from authhub.identity import Identity
from authhub.request import RESPONSE_HEADERS, Request

__all__ = [
    "FlaskAuth",
    "authhub_request",
    "current_auth",
    "current_hub",
    "current_identity",
    "current_user",
    "login_required",
]

#: ``app.extensions`` key of the application's hub.
EXTENSION = "authhub"
#: The WSGI environ keys the core's WSGI middleware uses too, so both agree.
REQUEST_KEY = "authhub.request"
SCHEMES_KEY = "authhub.schemes"


class FlaskAuth:
    """The Flask extension: one hub per application.

    :param app: the application (or call :meth:`init_app` later).
    :param hub: the hub whose chain runs; by default one is built from
        ``app.config["AUTHHUB"]`` (a dict of :class:`AuthHub` keyword
        arguments), then the environment and configuration files.
    """

    def __init__(self, app: flask.Flask | None = None, *, hub: AuthHub | None = None) -> None:
        self.hub = hub
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask, *, hub: AuthHub | None = None) -> AuthHub:
        """Bind a hub to ``app`` and install the refusal handler; returns the hub."""
        hub = hub or self.hub or AuthHub(**app.config.get("AUTHHUB", {}))
        app.extensions[EXTENSION] = hub
        app.register_error_handler(AuthhubError, _refuse)
        app.after_request(_add_scheme_headers)
        return hub


def current_hub() -> AuthHub:
    """The hub of the application handling the current request."""
    try:
        hub: AuthHub = flask.current_app.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError("authhub.contrib.flask.FlaskAuth is not initialised on this application") from None
    return hub


def authhub_request() -> Request:
    """The current request as an :class:`authhub.Request`, built once per request."""
    environ = flask.request.environ
    request = environ.get(REQUEST_KEY)
    if request is None:
        request = Request.from_wsgi(environ, current_hub())
        environ[REQUEST_KEY] = request
    return request


def _identity() -> Identity:
    return authhub_request().identity


#: The current request's :class:`authhub.Identity` (the chain runs on first use).
current_identity: Identity = LocalProxy(_identity)  # type: ignore[assignment]
#: The current request's user: the scheme's user, or the hub's anonymous user.
current_user: Any = LocalProxy(lambda: _identity().user)
#: What the answering scheme gave as ``auth`` (a token row, ``None``, ...).
current_auth: Any = LocalProxy(lambda: _identity().auth)


def login_required(view: Callable[..., Any] | None = None, *, schemes: Sequence[str] | None = None) -> Any:
    """Refuse anonymous requests to a view: 401 with the challenges, or 403.

    ``schemes`` gives the view a chain of its own instead of the hub's,
    which also decides the challenges of its refusals. Use as
    ``@login_required`` or ``@login_required(schemes=["token"])``.
    """
    if view is None:
        return functools.partial(login_required, schemes=schemes)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = authhub_request()
        if schemes is not None:
            flask.request.environ[SCHEMES_KEY] = list(schemes)
            request.identity = current_hub().authenticate(request, schemes)
        if not request.identity.is_authenticated:
            raise NotAuthenticated()
        return flask.current_app.ensure_sync(view)(*args, **kwargs)

    return wrapper


def _refuse(error: AuthhubError) -> flask.Response:
    response = error_response(current_hub(), authhub_request(), error, flask.request.environ.get(SCHEMES_KEY))
    return flask.Response(response.body, response.status, headers=response.headers)


def _add_scheme_headers(response: flask.Response) -> flask.Response:
    request = flask.request.environ.get(REQUEST_KEY)
    if request is not None:
        for name, value in request.state.get(RESPONSE_HEADERS, ()):
            response.headers.add(name, value)
    return response
