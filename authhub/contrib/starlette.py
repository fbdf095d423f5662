"""Starlette integration: ``request.user`` and ``request.auth`` the Starlette way.

``Middleware(AuthhubMiddleware, hub=hub)`` runs the hub's chain before the
application, without blocking the event loop (the core's ASGI middleware
does the work, form bodies included), and fills the scope keys Starlette's
own ``AuthenticationMiddleware`` fills:

- ``request.user``: the scheme's user, or the hub's anonymous user;
- ``request.auth``: an :class:`AuthhubCredentials` - Starlette's
  ``AuthCredentials`` whose ``scopes`` are ``["authenticated", <the
  auth's own scopes>]`` (so ``@requires("authenticated")`` works), with
  authhub's ``auth`` and ``scheme`` beside them.

Wrong credentials are answered with 401 and every challenge of the chain
(403 when none has one) without calling the application; a WebSocket
handshake with wrong credentials is closed with code 1008.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.authentication import AuthCredentials
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from authhub import asgi
from authhub.contrib import scopes_of
from authhub.errors import AuthhubError, NotAuthenticated
from authhub.hub import AuthHub
from authhub.identity import Identity
from authhub.request import Request

__all__ = ["AuthhubCredentials", "AuthhubMiddleware", "identity_of"]

#: WebSocket close code for a refused handshake (RFC 6455 section 7.4.1: policy violation).
POLICY_VIOLATION = 1008


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
    scope["user"] = identity.user
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
