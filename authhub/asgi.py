"""ASGI middleware: the identity is ready before the application runs.

For ASGI the chain runs before the application is called, with
:meth:`AuthHub.aauthenticate`, so database work never blocks the event
loop. The identity is put into ``scope["authhub.identity"]`` (and the
request into ``scope["authhub.request"]``); wrong credentials are answered
with 401 and the challenges without calling the application.

Form bodies of unsafe requests are read first (bounded by
``max_body_size``), so a scheme can read a form field such as a CSRF
token, and are replayed to the application unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from authhub.errors import AuthhubError, BadRequest, NotAuthenticated
from authhub.http import Response, error_response
from authhub.hub import AuthHub
from authhub.request import RESPONSE_HEADERS, SAFE_METHODS, Request

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")


class AuthMiddleware:
    """Authenticate each HTTP request of an ASGI application.

    :param app: the ASGI application.
    :param hub: the :class:`AuthHub` whose chain runs.
    :param schemes: a chain of its own for this application (default: the hub's).
    :param required: refuse anonymous requests (401 with challenges, or 403).
    """

    def __init__(
        self, app: ASGIApp, hub: AuthHub, *, schemes: Sequence[str] | None = None, required: bool = False
    ) -> None:
        self.app = app
        self.hub = hub
        self.schemes = list(schemes) if schemes is not None else None
        self.required = required
        # A hub never changes once built: its chain is looked up once, here.
        self._chain = hub.chain(self.schemes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body: bytes | None = None
        if scope.get("method", "GET") not in SAFE_METHODS and _is_form(scope):
            try:
                body = await read_body(receive, self.hub.settings["max_body_size"])
            except BadRequest as error:
                await respond(error_response(self.hub, Request.from_asgi(scope, self.hub), error), send)
                return
            receive = _replay(body, receive)
        request = Request.from_asgi(scope, self.hub, body)
        try:
            identity = await self._chain.arun(request)
            if self.required and not identity.is_authenticated:
                raise NotAuthenticated()
        except AuthhubError as error:
            await respond(
                error_response(self.hub, request, error, self.schemes), _adding_response_headers(request, send)
            )
            return
        if request.state.get(RESPONSE_HEADERS):
            send = _adding_response_headers(request, send)
        request.identity = identity
        scope["authhub.request"] = request
        scope["authhub.identity"] = identity
        await self.app(scope, receive, send)


def _adding_response_headers(request: Request, send: Send) -> Send:
    """``send`` that appends the header lines schemes left in ``request.state`` to the response start."""

    async def sending(message: MutableMapping[str, Any]) -> None:
        pending = request.state.get(RESPONSE_HEADERS)
        if pending and message["type"] == "http.response.start":
            extra = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pending]
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return sending


def _is_form(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() in _FORM_TYPES
    return False


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read a whole request body, refusing one over ``limit`` bytes (413)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"Request body larger than {limit} bytes.", status_code=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def respond(response: Response, send: Send) -> None:
    """Send a complete :class:`authhub.Response` over ASGI."""
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
