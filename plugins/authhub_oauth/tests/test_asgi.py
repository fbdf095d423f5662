"""The bearer scheme behind the ASGI middleware: same answers as over WSGI."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from authhub import AuthHub
from authhub.asgi import AuthMiddleware

from .conftest import PASSWORD


async def whoami(scope: dict[str, Any], receive: Any, send: Any) -> None:
    identity = scope["authhub.identity"]
    body = f"{identity.scheme}:{getattr(identity.user, 'username', None)}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def call(hub: AuthHub, headers: dict[str, str]) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=AuthMiddleware(whoami, hub, required=True))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/", headers=headers)

    return asyncio.run(run())


def test_bearer_token_over_asgi(hub: AuthHub) -> None:
    user = hub.users.create("dave", PASSWORD)
    answer = call(hub, hub.auth_headers("oauth", user))

    assert answer.status_code == 200
    assert answer.text == "oauth:dave"


def test_bad_token_over_asgi_is_invalid_token(hub: AuthHub) -> None:
    answer = call(hub, {"Authorization": "Bearer not-a-token"})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == (
        'Bearer realm="authhub", error="invalid_token", error_description="The access token is unknown."'
    )


def test_no_token_over_asgi_is_a_bare_challenge(hub: AuthHub) -> None:
    answer = call(hub, {})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="authhub"'
