"""Starlette's ``AuthenticationMiddleware`` over the same trivial ASGI app as authhub's.

Its backend does what authhub's tiny scheme does: read the
``Authorization`` header and find the key in a dict. The second case does
that lookup in a worker thread (Starlette's ``run_in_threadpool``), as a
backend with a blocking lookup (a synchronous database driver) must: the
anchor for authhub's plain, non-coroutine schemes, which the ASGI
middleware runs in a worker thread.
"""

from __future__ import annotations

from typing import Any

from cases_authhub import TINY_TOKENS, TINY_USER, asgi_calls, trivial_asgi
from harness import Case

GROUP = "anchor"


def middleware(*, in_a_thread: bool = False) -> list[Case]:
    """The dict backend on the event loop, or (``in_a_thread``) the same lookup in ``run_in_threadpool``."""
    from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware.authentication import AuthenticationMiddleware

    def lookup(header: str | None) -> Any:
        if header is None or not header.startswith("Token "):
            return None
        user = TINY_TOKENS.get(header[6:])
        if user is None:
            raise AuthenticationError("Invalid token.")
        return AuthCredentials(["authenticated"]), user

    class DictBackend(AuthenticationBackend):
        async def authenticate(self, conn: Any) -> Any:
            return lookup(conn.headers.get("authorization"))

    class ThreadBackend(AuthenticationBackend):
        async def authenticate(self, conn: Any) -> Any:
            return await run_in_threadpool(lookup, conn.headers.get("authorization"))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["user"] is TINY_USER
        await trivial_asgi(scope, receive, send)

    if not in_a_thread:
        return [Case("ASGI trivial app + Starlette AuthenticationMiddleware", GROUP,
                     asgi_calls(AuthenticationMiddleware(app, backend=DictBackend())), is_async=True,
                     note="dict backend")]
    return [
        Case("ASGI trivial app + Starlette AuthenticationMiddleware (threadpool backend)", GROUP,
             asgi_calls(AuthenticationMiddleware(app, backend=ThreadBackend())), is_async=True, waits=True,
             note="dict lookup in run_in_threadpool"),
    ]
