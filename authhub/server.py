"""The reference application behind ``authhub serve``.

A small WSGI application: the core's routes (``/whoami``, ``/protected``)
plus whatever the plugins add through the ``serve_routes`` hook, behind
:class:`authhub.wsgi.AuthMiddleware`, served by waitress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from authhub.errors import AuthhubError, ConfigurationError, NotAuthenticated
from authhub.http import Response, error_response
from authhub.hub import AuthHub
from authhub.request import Request
from authhub.wsgi import AuthMiddleware, request_of, send

log = logging.getLogger("authhub.server")

Handler = Callable[[Request], Response]


@attrs.frozen
class Route:
    """One path of the reference server and the handler that answers it."""

    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)


def whoami_body(request: Request) -> dict[str, Any]:
    identity = request.identity
    return {
        "authenticated": identity.is_authenticated,
        "user": getattr(identity.user, "username", None) if identity.is_authenticated else None,
        "scheme": identity.scheme,
    }


def whoami(request: Request) -> Response:
    return Response.json(whoami_body(request))


def protected(request: Request) -> Response:
    if not request.identity.is_authenticated:
        raise NotAuthenticated()
    return Response.json(whoami_body(request))


CORE_ROUTES = (
    Route("/whoami", whoami, ("GET", "HEAD")),
    Route("/protected", protected, ("GET", "HEAD")),
)


class Router:
    """A WSGI application dispatching on exact paths."""

    def __init__(self, hub: AuthHub, routes: Iterable[tuple[str, Route]]) -> None:
        self.hub = hub
        self.routes: dict[str, Route] = {}
        owners: dict[str, str] = {}
        for owner, route in routes:
            if route.path in self.routes:
                raise ConfigurationError(
                    f"route {route.path!r} of plugin {owner!r} is already served by {owners[route.path]!r}"
                )
            self.routes[route.path] = route
            owners[route.path] = owner

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = request_of(environ)
        route = self.routes.get(request.path)
        if route is None:
            response = Response.json({"detail": "Not found."}, 404)
        elif request.method not in route.methods:
            response = Response.json({"detail": f"Method {request.method} not allowed."}, 405,
                                     [("Allow", ", ".join(route.methods))])
        else:
            try:
                response = route.handler(request)
            except AuthhubError as error:
                response = error_response(self.hub, request, error)
            except Exception:
                log.exception("handler for %s failed", request.path)
                response = Response.json({"detail": "Internal server error."}, 500)
        if request.method == "HEAD":
            response = Response(response.status, response.headers, b"")
        return send(response, start_response)


def make_app(hub: AuthHub) -> AuthMiddleware:
    """The reference WSGI application for ``hub``."""
    routes = [("authhub", route) for route in CORE_ROUTES]
    routes.extend(hub.hooks.serve_routes(hub))
    return AuthMiddleware(Router(hub, routes), hub)


def serve(hub: AuthHub, host: str = "127.0.0.1", port: int = 8000, threads: int = 8) -> None:
    """Serve the reference application until interrupted (tables must be up to date)."""
    import waitress

    waitress.serve(make_app(hub), host=host, port=port, threads=threads, ident="authhub")
