"""Helpers for the core's tests: tiny real schemes, registered in code."""

from __future__ import annotations

import base64
from typing import Any

import pytest

import authhub


class HeaderScheme:
    """A plugin made of module-like attributes (the hookimpls), hashable as pluggy needs plugins to be."""


def header_scheme(header: str, users: dict[str, str], *, challenge: str | None = None) -> HeaderScheme:
    """A scheme reading ``<header>: <secret>``: known secret -> its user, other value -> 401, absent -> None."""

    @authhub.hookimpl
    def authenticate(request: authhub.Request) -> tuple[Any, Any] | None:
        values = request.headers.get_all(header)
        if not values:
            return None
        user = users.get(values[0])
        if user is None:
            raise authhub.AuthenticationFailed(f"Unknown {header}.")
        return authhub.User(1, user), values[0]

    namespace = HeaderScheme()
    namespace.authenticate = authenticate  # type: ignore[attr-defined]
    if challenge is not None:

        @authhub.hookimpl
        def challenge_hook(request: authhub.Request) -> str:
            return challenge

        challenge_hook.__name__ = "challenge"
        namespace.challenge = challenge_hook  # type: ignore[attr-defined]
    return namespace


class Recorder:
    """A plugin that records every authentication outcome."""

    def __init__(self) -> None:
        self.outcomes: list[authhub.Outcome] = []

    @authhub.hookimpl
    def authentication_outcome(self, outcome: authhub.Outcome) -> None:
        self.outcomes.append(outcome)


@pytest.fixture
def schemes() -> dict[str, Any]:
    """Three real schemes: ``alpha`` (X-Alpha), ``beta`` (X-Beta), ``gamma`` (X-Gamma, no challenge)."""
    return {
        "alpha": header_scheme("x-alpha", {"a-secret": "alice"}, challenge='Alpha realm="test"'),
        "beta": header_scheme("x-beta", {"b-secret": "bob"}, challenge="Beta"),
        "gamma": header_scheme("x-gamma", {"g-secret": "gina"}),
    }


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
