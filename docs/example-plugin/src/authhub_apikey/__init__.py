"""authhub-apikey: ``X-API-Key: <key>`` checked against ``user:sha256(key)`` pairs in the settings."""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import re
from collections.abc import Mapping
from typing import Any

import authhub

__version__ = importlib.metadata.version("authhub-apikey")

_ENTRY = re.compile(r"(?P<username>[^:]+):(?P<digest>[0-9a-f]{64})")


@authhub.hookimpl
def scheme_settings() -> dict[str, authhub.Setting]:
    return {"keys": authhub.Setting([], kind=list, help="user:sha256-hex-of-key pairs")}


@authhub.hookimpl
def create_scheme(hub: authhub.AuthHub, name: str, settings: Mapping[str, Any]) -> ApiKeyScheme:
    return ApiKeyScheme(hub, name, settings)


class ApiKeyScheme(authhub.Scheme):
    """One hub's API keys: the settings, checked once, as (digest, user) pairs."""

    position = 350  # a header of its own: tried before the session cookie (400)

    def __init__(self, hub: authhub.AuthHub, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(hub, name, settings)
        self.keys: list[tuple[str, authhub.User]] = []
        for number, entry in enumerate(settings["keys"], start=1):
            match = _ENTRY.fullmatch(entry)
            if match is None:
                raise authhub.ConfigurationError(f"{name}.keys: entry {number} is not user:sha256-hex-of-key")
            username = match["username"]
            # The id names the scheme: it cannot collide with a user store's ids (1, 2, ... or UUIDs).
            self.keys.append((match["digest"], authhub.User(f"{name}:{username}", username)))

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request) -> tuple[authhub.User, None] | None:
        key = request.headers.get("x-api-key")
        if key is None:
            return None  # not our kind of credentials: the next scheme is tried
        digest = hashlib.sha256(key.encode()).hexdigest()
        for expected, user in self.keys:
            if hmac.compare_digest(digest, expected):
                return user, None
        raise authhub.AuthenticationFailed("Invalid API key.")

    @authhub.hookimpl
    def challenge(self) -> str:
        return 'ApiKey header="X-API-Key"'

    def openapi(self) -> dict[str, Any]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key."}
