"""Starlette integration: ``request.user`` and ``request.auth`` the Starlette way.

``Middleware(AuthhubMiddleware, hub=hub)`` runs the hub's chain before the
application, without blocking the event loop (the core's ASGI middleware
does the work, form bodies included), and fills the scope keys Starlette's
own ``AuthenticationMiddleware`` fills:

- ``request.user``: a Starlette ``BaseUser`` - a :class:`StarletteUser`
  (``is_authenticated``, ``display_name``, ``identity``, and the store
  user's own attributes) or a :class:`StarletteAnonymousUser`;
- ``request.auth``: an :class:`AuthhubCredentials` - Starlette's
  ``AuthCredentials`` whose ``scopes`` are ``["authenticated", <the
  auth's own scopes>]`` (so ``@requires("authenticated")`` works), with
  authhub's ``auth`` and ``scheme`` beside them.

Wrong credentials are answered with 401 and every challenge of the chain
(403 when none has one) without calling the application; a WebSocket
handshake with wrong credentials is closed with code 1008. With
``exception_handlers={403: challenge_anonymous}`` an anonymous request
that ``@requires`` turns away gets the same 401 with the challenges
instead of Starlette's plain-text 403.

``Starlette(routes=[..., *hub_routes(hub)])`` serves the hub's plugin
routes (``/login``, ``/oauth/*``, ...) in the application.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from authhub import asgi
from authhub.contrib import scopes_of
from authhub.contrib.routes import call_route, route_table
from authhub.contrib.users import UserProxy, is_default_anonymous
from authhub.errors import AuthhubError, BadRequest, NotAuthenticated
from authhub.http import Response, error_response
from authhub.hub import AuthHub
from authhub.identity import Identity
from authhub.request import Request
from authhub.routes import Route

__all__ = [
    "AuthhubCredentials",
    "AuthhubMiddleware",
    "StarletteAnonymousUser",
    "StarletteUser",
    "challenge_anonymous",
    "hub_routes",
    "identity_of",
    "starlette_response",
    "starlette_user",
]

#: WebSocket close code for a refused handshake (RFC 6455 section 7.4.1: policy violation).
POLICY_VIOLATION = 1008


class StarletteUser(UserProxy, BaseUser):
    """A store's user as a Starlette ``BaseUser``: ``display_name`` is the name, ``identity`` the id as text."""

    __slots__ = ()

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    @property
    def identity(self) -> str:
        return str(self.id)


class StarletteAnonymousUser(UnauthenticatedUser):
    """Starlette's ``UnauthenticatedUser``, with authhub's ``username`` and ``id`` (``None``)."""

    id = None
    username = None
    is_active = False

    def __repr__(self) -> str:
        return "<StarletteAnonymousUser>"


def starlette_user(identity: Identity) -> Any:
    """``request.user`` for ``identity``: the store's user as a :class:`StarletteUser`, or the anonymous user.

    A user that is a ``BaseUser`` already is handed over as it is; authhub's
    null user becomes a :class:`StarletteAnonymousUser`; an
    ``unauthenticated_user`` the application configured stays its own.
    """
    user = identity.user
    if identity.is_authenticated:
        return user if isinstance(user, BaseUser) else StarletteUser(user)
    return StarletteAnonymousUser() if is_default_anonymous(identity) else user


class AuthhubCredentials(AuthCredentials):
    """``request.auth``: Starlette's scopes, and what authhub's chain answered."""

    def __init__(self, identity: Identity) -> None:
        scopes = ["authenticated", *sorted(scopes_of(identity.auth))] if identity.is_authenticated else []
        super().__init__(scopes)
        self.identity = identity

    @property
    def auth(self) -> Any:
        """The scheme's ``auth`` (a token row, an access token, ``None``)."""
        return self.identity.auth

    @property
    def scheme(self) -> str | None:
        """The scheme that answered, ``None`` when anonymous."""
        return self.identity.scheme

    def __repr__(self) -> str:
        return f"AuthhubCredentials(scopes={self.scopes!r}, scheme={self.scheme!r})"


class AuthhubMiddleware:
    """Authenticate every HTTP request and WebSocket handshake of a Starlette application.

    :param app: the ASGI application.
    :param hub: the :class:`AuthHub` whose chain runs.
    :param schemes: a chain of its own for this application (default: the hub's).
    :param required: refuse anonymous requests (401 with the challenges, or 403).
    """

    def __init__(
        self, app: ASGIApp, hub: AuthHub, *, schemes: Sequence[str] | None = None, required: bool = False
    ) -> None:
        self.app = app
        self.hub = hub
        self.schemes = list(schemes) if schemes is not None else None
        self.required = required
        self._http = asgi.AuthMiddleware(self._with_identity, hub, schemes=self.schemes, required=required)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _with_identity(self, scope: Scope, receive: Receive, send: Send) -> None:
        _fill(scope, scope["authhub.identity"], self.hub, self.schemes)
        await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request.from_asgi(scope, self.hub)
        try:
            identity = await self.hub.aauthenticate(request, self.schemes)
            if self.required and not identity.is_authenticated:
                raise NotAuthenticated()
        except AuthhubError:
            await WebSocketClose(code=POLICY_VIOLATION)(scope, receive, send)
            return
        request.identity = identity
        scope["authhub.request"] = request
        scope["authhub.identity"] = identity
        _fill(scope, identity, self.hub, self.schemes)
        await self.app(scope, receive, send)


def _fill(scope: Scope, identity: Identity, hub: AuthHub, schemes: Sequence[str] | None) -> None:
    scope["user"] = starlette_user(identity)
    scope["auth"] = AuthhubCredentials(identity)
    # Which hub and chain found it, so FastAPI dependencies on the same chain reuse it.
    scope["authhub.chain"] = (hub, tuple(schemes) if schemes is not None else hub.schemes)


def identity_of(connection: HTTPConnection) -> Identity:
    """The :class:`authhub.Identity` that :class:`AuthhubMiddleware` found for a request or WebSocket."""
    try:
        identity: Identity = connection.scope["authhub.identity"]
    except KeyError:
        raise RuntimeError("authhub.contrib.starlette.AuthhubMiddleware is not installed") from None
    return identity


def starlette_response(response: Response) -> StarletteResponse:
    """An :class:`authhub.Response` as a Starlette response, repeated header lines kept."""
    converted = StarletteResponse(response.body, response.status)
    converted.raw_headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
    )
    return converted


async def challenge_anonymous(request: StarletteRequest, exc: Exception) -> StarletteResponse:
    """Exception handler for 403s: an anonymous request gets the core's 401 with the chain's challenges.

    ``Starlette(..., exception_handlers={403: challenge_anonymous})``. Starlette's
    ``@requires`` refuses with ``HTTPException(403)``; to a request that sent
    no credentials authhub answers as everywhere else: 401, one
    ``WWW-Authenticate`` line per scheme of :class:`AuthhubMiddleware`'s
    chain, ``{"detail": ...}`` (403 when no scheme has a challenge). An
    authenticated request keeps Starlette's own 403.
    """
    identity = request.scope.get("authhub.identity")
    chain = request.scope.get("authhub.chain")
    if isinstance(identity, Identity) and not identity.is_authenticated and chain is not None:
        hub, schemes = chain
        converted = request.scope.get("authhub.request")
        if not isinstance(converted, Request):
            converted = Request.from_asgi(request.scope, hub)
        return starlette_response(error_response(hub, converted, NotAuthenticated(), list(schemes)))
    detail = exc.detail if isinstance(exc, HTTPException) else "Forbidden"
    headers = exc.headers if isinstance(exc, HTTPException) else None
    return PlainTextResponse(detail, 403, headers=headers)


def hub_routes(hub: AuthHub) -> list[StarletteRoute]:
    """``hub``'s plugin routes (``/login``, ``/oauth/*``, ...) as Starlette routes at their own paths.

    ``Starlette(routes=[*your_routes, *hub_routes(hub)])``, without a
    ``Mount`` prefix: the pages link to the paths ``authhub serve`` uses.
    The handlers run in a worker thread; the body is read up to the hub's
    ``max_body_size``.
    """
    return [
        StarletteRoute(path, _PluginRoute(hub, route), methods=list(route.methods), name=f"authhub{path}")
        for path, route in route_table(hub).items()
    ]


class _PluginRoute:
    """The ASGI application answering one plugin route."""

    def __init__(self, hub: AuthHub, route: Route) -> None:
        self.hub = hub
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self.hub
        try:
            body = await asgi.read_body(receive, hub.settings["max_body_size"])
        except BadRequest as error:
            await asgi.respond(error_response(hub, Request.from_asgi(scope, hub), error), send)
            return
        request = Request.from_asgi(scope, hub, body)
        if scope.get("authhub.chain") == (hub, hub.schemes):
            request.identity = scope["authhub.identity"]  # AuthhubMiddleware ran the hub's chain already
        await asgi.respond(await run_in_threadpool(call_route, self.route, request), send)
