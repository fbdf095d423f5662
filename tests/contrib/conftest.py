"""Tiny real schemes for the adapter tests, and Django's settings.

``key``: ``Authorization: Key <key>``, keys issued by its ``auth_headers``
hook (optionally with scopes); ``pass``: ``Authorization: Pass user:password``
checked against the hub's user table. Both have challenges, so refusals
are 401s with two ``WWW-Authenticate`` lines in chain order.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import attrs
import django
import pytest
from django.conf import settings

import authhub

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="authhub-adapter-tests-only",
        ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "authhub.contrib.django",
        ],
        # The project's hub when a test sets none: no plugin, nothing read from the environment or files.
        AUTHHUB={"load_entry_points": False, "environ": {}, "schemes": [], "database_url": "sqlite://"},
        MIDDLEWARE=["authhub.contrib.django.AuthhubMiddleware"],
        ROOT_URLCONF=None,
        DATABASES={},
        USE_TZ=True,
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth"]},
            }
        ],
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": ["authhub.contrib.drf.AuthhubAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        },
    )
    django.setup()


@attrs.frozen
class Grant:
    """What the ``key`` scheme gives as ``auth``."""

    key_id: int
    scopes: frozenset[str] = frozenset()


class KeyScheme:
    """``Authorization: Key <key>``: a known key is its user; an unknown one is refused."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[int, Grant]] = {}
        self.scopes_for_next: frozenset[str] = frozenset()

    def issue(self, user: Any, scopes: frozenset[str] = frozenset()) -> str:
        key = secrets.token_hex(16)
        self.keys[key] = (user.id, Grant(len(self.keys) + 1, scopes))
        return key

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> tuple[Any, Any] | None:
        header = request.authorization
        if header is None or not header.startswith("Key "):
            return None
        found = self.keys.get(header[4:])
        if found is None:
            raise authhub.AuthenticationFailed("Invalid key.")
        user_id, grant = found
        return hub.users.get(user_id), grant

    @authhub.hookimpl
    def challenge(self) -> str:
        return 'Key realm="tests"'

    @authhub.hookimpl
    def auth_headers(self, user: Any) -> dict[str, str]:
        return {"Authorization": f"Key {self.issue(user, self.scopes_for_next)}"}


class PassScheme:
    """``Authorization: Pass user:password`` against the hub's users."""

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> tuple[Any, Any] | None:
        header = request.authorization
        if header is None or not header.startswith("Pass "):
            return None
        username, _, password = header[5:].partition(":")
        return hub.users.check_password(username, password), None

    @authhub.hookimpl
    def challenge(self) -> str:
        return "Pass"

    @authhub.hookimpl
    def auth_headers(self, user: Any, password: str | None) -> dict[str, str] | None:
        return None if password is None else {"Authorization": f"Pass {user.username}:{password}"}


@pytest.fixture
def key_scheme() -> KeyScheme:
    return KeyScheme()


@pytest.fixture
def make_chain_hub(
    authhub_make_hub: Callable[..., authhub.AuthHub], key_scheme: KeyScheme
) -> Callable[..., authhub.AuthHub]:
    """``make_chain_hub(**settings)``: a hub whose chain is ``key`` then ``pass``, no installed plugin loaded."""

    def make(**settings: Any) -> authhub.AuthHub:
        return authhub_make_hub(
            load_entry_points=False,
            plugins={"key": key_scheme, "pass": PassScheme()},
            schemes=["key", "pass"],
            **settings,
        )

    return make


@pytest.fixture
def hub(make_chain_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    return make_chain_hub()


@pytest.fixture
def trusting_hub(make_chain_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    """The ``key``/``pass`` chain, believing the proxy on 127.0.0.1 (nginx, Caddy, Traefik) about the request."""
    return make_chain_hub(trusted_proxies=["127.0.0.1"])


@pytest.fixture
def alice(authhub_user: Callable[..., Any], hub: authhub.AuthHub) -> Any:
    return authhub_user("alice", "wonderland", hub=hub)


@pytest.fixture
def token_hub(authhub_make_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    """A hub on the installed ``authhub-token`` distribution (found through its entry point)."""
    return authhub_make_hub(schemes=["token"])


@pytest.fixture
def session_hub(authhub_make_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    """A hub on the installed ``authhub-session``: its plugin routes are ``/``, ``/login`` and ``/logout``."""
    return authhub_make_hub(schemes=["session"])


def login_form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the session plugin's login form (its CSRF token and ``next``)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
