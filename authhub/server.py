"""The reference application behind ``authhub serve``.

A small WSGI application: the core's routes (``/whoami``, ``/protected``,
the forward-auth endpoint ``/auth/verify``) plus whatever the plugins add through the ``serve_routes`` hook, behind
:class:`authhub.wsgi.AuthMiddleware`, served by waitress on sockets bound first (:func:`listen`), with an
access log (:mod:`authhub.accesslog`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import logging
import os
import re
import signal
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs

from authhub.accesslog import REFUSED_BY, AccessLog, AccessLogFormat
from authhub.errors import AuthhubError, BadRequest, ConfigurationError, NotAuthenticated, StoreUnavailable
from authhub.http import Response, error_response
from authhub.hub import AuthHub
from authhub.request import SAFE_METHODS, Headers, Request
from authhub.routes import PATH_PARAMS, Route
from authhub.storeerrors import describe_outage
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


#: What ``X-Authhub-User`` leaves as it is; every other byte of the name's UTF-8 is ``%XX``, ``%`` too, so
#: ``urllib.parse.unquote`` gives the name back. A documented contract (docs/forward-auth.md): never change it.
USER_HEADER_SAFE = "@._-+~!$&'()*,;=:"


def verify(request: Request) -> Response:
    """Answer a reverse proxy's forward-auth sub-request (nginx, Caddy, Traefik; docs/forward-auth.md).

    200 with ``X-Authhub-User`` (the user name, percent-encoded UTF-8:
    :data:`USER_HEADER_SAFE`) and ``X-Authhub-Scheme`` when the forwarded
    credentials are good; 401 with the challenges (403 when no scheme has
    one) when they are wrong or missing. The proxy copies those headers
    onto the request it passes on.
    """
    assert request.hub is not None  # the reference server binds every request to its hub
    identity = request.hub.authenticate(forwarded_request(request))
    request.identity = identity
    if identity.scheme is None:
        raise NotAuthenticated()
    username = getattr(identity.user, "username", None)
    headers = [("X-Authhub-Scheme", identity.scheme), ("Cache-Control", "no-store")]
    if username is not None:
        headers.append(("X-Authhub-User", quote(str(username), safe=USER_HEADER_SAFE)))
    return Response.json(whoami_body(request), headers=headers)


def forwarded_request(request: Request) -> Request:
    """The request a reverse proxy asks about, as the chain should see it.

    The sub-request carries the client's own ``Authorization`` and ``Cookie``
    headers. A trusted proxy (``trusted_proxies``) also says which request
    it is about: ``X-Forwarded-Method``/``-Uri``/``-Host`` (what Caddy,
    Traefik and the nginx recipe send) or the older
    ``X-Original-Method``/``-URI``. From
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


def _claim(headers: Headers, preferred: str, other: str) -> str | None:
    """What the proxy says under ``preferred`` (the recipes set it) or else ``other``; 400 when they differ.

    A proxy that sets only one of them passes the other on from the client
    as is: a difference means a client tried to say something else (issue 14).
    """
    first, second = _last(headers, preferred), _last(headers, other)
    if first is not None and second is not None and first != second:
        raise BadRequest(f"The {preferred} and {other} headers disagree.")
    return first if first is not None else second


def _last(headers: Headers, name: str) -> str | None:
    values = headers.get_all(name)
    return values[-1].strip() if values else None


CORE_ROUTES = (
    Route("/whoami", whoami, ("GET", "HEAD")),
    Route("/protected", protected, ("GET", "HEAD")),
    # nginx's auth_request keeps the client's method on the sub-request.
    Route("/auth/verify", verify, ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")),
)


class Router:
    """A WSGI application dispatching on exact paths, then on patterns (``/tokens/{id}``) in order."""

    def __init__(self, hub: AuthHub, routes: Iterable[tuple[str, Route]]) -> None:
        self.hub = hub
        self.routes: dict[str, Route] = {}
        self.patterns: list[Route] = []
        owners: dict[str, str] = {}
        for owner, route in routes:
            if route.path in owners:
                raise ConfigurationError(
                    f"route {route.path!r} of plugin {owner!r} is already served by {owners[route.path]!r}"
                )
            owners[route.path] = owner
            if route.pattern is None:
                self.routes[route.path] = route
            else:
                self.patterns.append(route)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = request_of(environ)
        route = self.routes.get(request.path)
        if route is None and self.patterns:
            route = self._match(request)
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
                if error.scheme is not None:
                    request.state[REFUSED_BY] = error.scheme
                elif isinstance(error, StoreUnavailable):  # the chain logs its own outages; a route's are ours
                    log.error("%s %s: store unavailable: %s", request.method, request.path,
                              describe_outage(error.__cause__, self.hub.settings["database_url"]))
                response = error_response(self.hub, request, error)
            except Exception:
                log.exception("handler for %s failed", request.path)
                response = Response.json({"detail": "Internal server error."}, 500)
        if request.method == "HEAD":
            response = Response(response.status, response.headers, b"")
        return send(response, start_response)

    def _match(self, request: Request) -> Route | None:
        """The first pattern route for the request's path; its values go to ``request.state["path_params"]``."""
        for route in self.patterns:
            params = route.match(request.path)
            if params is not None:
                request.state[PATH_PARAMS] = params
                return route
        return None


#: waitress drops X-Forwarded-* headers unless told otherwise; the hub's own
#: ``trusted_proxies`` setting decides whom to believe, so they must reach it.
WAITRESS_OPTIONS: dict[str, Any] = {"clear_untrusted_proxy_headers": False}


def make_app(hub: AuthHub) -> AuthMiddleware:
    """The reference WSGI application for ``hub``."""
    routes = [("authhub", route) for route in CORE_ROUTES]
    routes.extend(hub.routes())
    return AuthMiddleware(Router(hub, routes), hub)


def listen(
    hub: AuthHub,
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 8,
    access_log: AccessLogFormat = "off",
) -> Server:
    """Bind the reference application's sockets, ready to :meth:`~Server.run`.

    Binding comes first so that a port in use or a wrong host is one
    :class:`ConfigurationError` naming the fix, before anything says it is
    serving.

    :param access_log: ``"plain"`` or ``"json"`` lines on the ``authhub.access``
        logger (:mod:`authhub.accesslog`), or ``"off"``.
    """
    return serve_on(hub, bind(host, port), threads, access_log)


def serve_on(hub: AuthHub, sockets: list[socket.socket], threads: int = 8,
             access_log: AccessLogFormat = "off") -> Server:
    """The waitress server of ``hub``'s reference application on sockets already bound.

    Two changes to waitress's defaults: its own body limit is the hub's
    ``max_body_size`` (413 before a larger body is spooled, not after 1 GiB),
    and a request with more than one ``Authorization`` header gets a 400,
    since waitress would join them into one value (issue 14).
    """
    import waitress.server

    app: Any = make_app(hub)
    if access_log != "off":
        app = AccessLog(app, access_log)
    dispatchers: dict[int, Any] = {}  # waitress's socket map: every socket and channel it serves
    try:
        server = waitress.server.create_server(app, dispatchers, sockets=sockets, threads=threads, ident="authhub",
                                               max_request_body_size=hub.settings["max_body_size"],
                                               **WAITRESS_OPTIONS)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    listeners = list((server.map or {}).values()) if isinstance(server, waitress.server.MultiSocketServer) else [server]
    for listener in listeners:
        if isinstance(listener, waitress.server.BaseWSGIServer):
            listener.channel_class = _channel_class()
    return Server(server, dispatchers, [sock.getsockname()[:2] for sock in sockets])


def create_server(hub: AuthHub, host: str = "127.0.0.1", port: int = 8000,
                  threads: int = 8) -> MultiSocketServer | BaseWSGIServer:
    """The waitress server ``authhub serve`` runs, not yet started (``.run()``), for tests that drive it."""
    server: MultiSocketServer | BaseWSGIServer = listen(hub, host, port, threads).waitress
    return server


def serve(hub: AuthHub, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
          access_log: AccessLogFormat = "off") -> None:
    """Serve the reference application until interrupted (tables must be up to date)."""
    listen(hub, host, port, threads, access_log).run()


def run_workers(make_hub: Callable[[], AuthHub], sockets: list[socket.socket], workers: int, threads: int,
                access_log: AccessLogFormat) -> int:
    """Serve ``sockets`` from ``workers`` forked processes, each with a hub of its own; their exit status.

    The sockets are bound once, here, and shared: the kernel hands each
    connection to one worker. Each worker builds its hub after the fork, so
    no connection or thread crosses a process; their caches stay coherent
    through the invalidation channel (:mod:`authhub.changes`). SIGTERM and
    SIGINT are passed on to every worker; a worker that dies stops the others,
    and the status is non-zero.
    """
    children: list[int] = []
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            status = 0
            try:
                serve_on(make_hub(), sockets, threads, access_log).run()
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                status = 1
            finally:
                os._exit(status)
        children.append(pid)
    for sock in sockets:  # the workers hold them now
        sock.close()
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        while children:
            try:
                pid, code = os.wait()
            except ChildProcessError:
                break
            children.remove(pid)
            if not stopping:
                log.error("worker %d exited (status %d): stopping the others", pid, os.waitstatus_to_exitcode(code))
                status = 1
                stop(signal.SIGTERM, None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status


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



@attrs.frozen
class Server:
    """Bound sockets and the waitress server that will answer on them."""

    waitress: Any
    dispatchers: dict[int, Any]
    #: ``(host, port)`` of every listening socket (the real port when 0 was asked).
    addresses: list[tuple[str, int]]

    @property
    def urls(self) -> list[str]:
        return [f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
                for host, port in self.addresses]

    def run(self) -> None:
        """Serve until interrupted."""
        self.waitress.run()

    def close(self) -> None:
        """Stop the worker threads and close every socket (for a server that will not run after all)."""
        from waitress import wasyncore

        self.waitress.task_dispatcher.shutdown()
        wasyncore.close_all(self.dispatchers)


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address ``host`` stands for; :class:`ConfigurationError` naming the fix."""
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:  # checked here: the resolver would look a malformed address up as a host name
            raise ConfigurationError(f"--host {host!r} is not an IPv4 address; {HOST_EXAMPLES}") from None
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise ConfigurationError(f"--host {host!r} is not an address or a name this machine resolves; "
                                 f"{HOST_EXAMPLES}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, address in dict.fromkeys((f, k, p, a) for f, k, p, _, a in found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            # As waitress does: a restarted server can bind while old connections linger in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(1024)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ConfigurationError(_bind_failure(host, port, exc)) from None
    return sockets


HOST_EXAMPLES = "use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface)"


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot serve on {host}:{port}: the port is in use (is another server running?); "
                "stop it or pick another port with --port")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve on {host}: it is not an address of this machine; {HOST_EXAMPLES}"
    if exc.errno == errno.EACCES:
        return f"cannot serve on port {port}: permission denied (ports below 1024 need privileges); use --port 8000"
    return f"cannot serve on {host}:{port}: {exc.strerror or exc}"
