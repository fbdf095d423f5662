"""The reference application behind ``authhub serve``.

A small WSGI application: the core's routes (``/whoami``, ``/protected``,
the forward-auth endpoint ``/auth/verify``) plus whatever the plugins add through the ``serve_routes`` hook, behind
:class:`authhub.wsgi.AuthMiddleware`, served by waitress.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from authhub.errors import AuthhubError, BadRequest, ConfigurationError, NotAuthenticated
from authhub.http import Response, error_response
from authhub.hub import AuthHub
from authhub.request import SAFE_METHODS, Headers, Request
from authhub.routes import Route
from authhub.wsgi import AuthMiddleware, request_of, send

if TYPE_CHECKING:
    from waitress.channel import HTTPChannel
    from waitress.server import BaseWSGIServer, MultiSocketServer

log = logging.getLogger("authhub.server")

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


def verify(request: Request) -> Response:
    """Answer a reverse proxy's forward-auth sub-request (nginx ``auth_request``, Traefik ``ForwardAuth``).

    200 with ``X-Authhub-User`` (the user name, percent-encoded UTF-8) and
    ``X-Authhub-Scheme`` when the forwarded credentials are good; 401 with
    the challenges (403 when no scheme has one) when they are wrong or
    missing. The proxy copies those headers onto the request it passes on.
    """
    assert request.hub is not None  # the reference server binds every request to its hub
    identity = request.hub.authenticate(forwarded_request(request))
    request.identity = identity
    if identity.scheme is None:
        raise NotAuthenticated()
    username = getattr(identity.user, "username", None)
    headers = [("X-Authhub-Scheme", identity.scheme), ("Cache-Control", "no-store")]
    if username is not None:
        headers.append(("X-Authhub-User", quote(str(username), safe="@._-+~!$&'()*,;=:")))
    return Response.json(whoami_body(request), headers=headers)


def forwarded_request(request: Request) -> Request:
    """The request a reverse proxy asks about, as the chain should see it.

    The sub-request carries the client's own ``Authorization`` and ``Cookie``
    headers. A trusted proxy (``trusted_proxies``) also says which request
    it is about: ``X-Forwarded-Method``/``-Uri``/``-Host`` (Traefik) or
    ``X-Original-Method``/``-URI`` (the nginx setup in the docs). From
    anyone else only an *unsafe* method is believed: it can only make a
    scheme stricter (CSRF checks of cookie sessions), while a forged safe
    method could skip them.
    """
    headers = request.headers
    trusted = _from_trusted_proxy(request)
    method = _claim(headers, "x-forwarded-method", "x-original-method")
    if method is None or not method.isalpha() or (not trusted and method.upper() in SAFE_METHODS):
        method = request.method
    path, query_string = request.path, request.query_string
    host = request.host
    if trusted:
        uri = _claim(headers, "x-forwarded-uri", "x-original-uri")
        if uri is not None and uri.startswith("/"):
            path, _, query_string = uri.partition("?")
        host = _last(headers, "x-forwarded-host") or host
    forwarded = Request(
        method,
        path,
        headers,
        query_string=query_string,
        client=request.client,
        url_scheme=request.url_scheme,
        host=host,
        body=b"",
        hub=request.hub,
        environ=request.environ,
    )
    # Header lines a scheme wants on the response (a stale cookie cleared) go on the answer.
    forwarded.state = request.state
    return forwarded


def _from_trusted_proxy(request: Request) -> bool:
    peer = request.environ.get("REMOTE_ADDR") if request.environ is not None else None
    if peer is None or request.hub is None:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in request.hub.trusted_proxies)


def _last(headers: Headers, name: str) -> str | None:
    values = headers.get_all(name)
    return values[-1].strip() if values else None


def _claim(headers: Headers, preferred: str, other: str) -> str | None:
    """What the proxy says under ``preferred`` (the recipes set it) or else ``other``; 400 when they differ.

    A proxy that sets only one of them passes the other on from the client
    as is: a difference means a client tried to say something else (issue 14).
    """
    first, second = _last(headers, preferred), _last(headers, other)
    if first is not None and second is not None and first != second:
        raise BadRequest(f"The {preferred} and {other} headers disagree.")
    return first if first is not None else second


CORE_ROUTES = (
    Route("/whoami", whoami, ("GET", "HEAD")),
    Route("/protected", protected, ("GET", "HEAD")),
    # nginx's auth_request keeps the client's method on the sub-request.
    Route("/auth/verify", verify, ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")),
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
            response = Response.json(
                {"detail": f"Method {request.method} not allowed."}, 405, [("Allow", ", ".join(route.methods))]
            )
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


#: waitress drops X-Forwarded-* headers unless told otherwise; the hub's own
#: ``trusted_proxies`` setting decides whom to believe, so they must reach it.
WAITRESS_OPTIONS: dict[str, Any] = {"clear_untrusted_proxy_headers": False}


def make_app(hub: AuthHub) -> AuthMiddleware:
    """The reference WSGI application for ``hub``."""
    routes = [("authhub", route) for route in CORE_ROUTES]
    routes.extend(hub.routes())
    return AuthMiddleware(Router(hub, routes), hub)


def create_server(hub: AuthHub, host: str = "127.0.0.1", port: int = 8000,
                  threads: int = 8) -> MultiSocketServer | BaseWSGIServer:
    """The waitress server ``authhub serve`` runs, not yet started (``.run()``).

    Two changes to waitress's defaults: its own body limit is the hub's
    ``max_body_size`` (413 before a larger body is spooled, not after 1 GiB),
    and a request with more than one ``Authorization`` header gets a 400,
    since waitress would join them into one value (issue 14).
    """
    from waitress.server import BaseWSGIServer, MultiSocketServer
    from waitress.server import create_server as waitress_server

    server = waitress_server(make_app(hub), host=host, port=port, threads=threads, ident="authhub",
                             max_request_body_size=hub.settings["max_body_size"], **WAITRESS_OPTIONS)
    listeners = list((server.map or {}).values()) if isinstance(server, MultiSocketServer) else [server]
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = _channel_class()
    return server


def serve(hub: AuthHub, host: str = "127.0.0.1", port: int = 8000, threads: int = 8) -> None:
    """Serve the reference application until interrupted (tables must be up to date)."""
    server = create_server(hub, host, port, threads)
    server.print_listen("Serving on http://{}:{}")
    server.run()


@functools.cache
def _channel_class() -> type[HTTPChannel]:
    """waitress's connection class with a parser that refuses a repeated ``Authorization`` header."""
    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser, ParsingError

    class Parser(HTTPRequestParser):
        def parse_header(self, header_plus: bytes) -> None:
            super().parse_header(header_plus)
            names = [line.split(b":", 1)[0].strip().lower() for line in header_plus.split(b"\r\n")[1:]
                     if line and not line.startswith((b" ", b"\t"))]
            if names.count(b"authorization") > 1:
                # waitress would hand on "a, b": one header a scheme might read, or skip when "a" is empty.
                raise ParsingError("More than one Authorization header.")

    class Channel(HTTPChannel):
        parser_class = Parser

    return Channel
