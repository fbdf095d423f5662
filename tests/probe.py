"""``Authorization: Probe <name>:<secret>``: a scheme of the tests' own, so the core alone suffices."""

from __future__ import annotations

import hmac
from typing import Any

import authhub


class ProbeScheme:
    """Authenticates ``name`` when the secret after the colon is ``secret``; refuses any other secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request) -> tuple[Any, None] | None:
        value = request.credentials("Probe")
        if value is None:
            return None
        name, _, secret = value.partition(":")
        if not hmac.compare_digest(secret.encode(), self.secret.encode()):
            raise authhub.AuthenticationFailed()
        return authhub.User(id=1, username=name), None

    @authhub.hookimpl
    def challenge(self) -> str:
        return "Probe"
