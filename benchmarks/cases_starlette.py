"""Starlette's ``AuthenticationMiddleware`` over the same trivial ASGI app as authhub's.

Its backend does what authhub's tiny scheme does: read the
``Authorization`` header and find the key in a dict.
"""

from __future__ import annotations

from typing import Any

from cases_authhub import TINY_TOKENS, TINY_USER, asgi_calls, trivial_asgi
from harness import Case

GROUP = "anchor"


def middleware() -> Case:
    from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
    from starlette.middleware.authentication import AuthenticationMiddleware

    class DictBackend(AuthenticationBackend):
        async def authenticate(self, conn: Any) -> Any:
            header = conn.headers.get("authorization")
            if header is None or not header.startswith("Token "):
                return None
            user = TINY_TOKENS.get(header[6:])
            if user is None:
                raise AuthenticationError("Invalid token.")
            return AuthCredentials(["authenticated"]), user

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["user"] is TINY_USER
        await trivial_asgi(scope, receive, send)

    return Case("ASGI trivial app + Starlette AuthenticationMiddleware", GROUP,
                asgi_calls(AuthenticationMiddleware(app, backend=DictBackend())), is_async=True, note="dict backend")
