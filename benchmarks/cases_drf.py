"""Django REST framework's anchors: ``TokenAuthentication``, ``BasicAuthentication``, ``SessionAuthentication``.

Each call wraps a ready Django request in a DRF ``Request`` with the one
authenticator and reads ``request.user``, which is what a DRF view does.
The Django request is built once and reused: its construction is not
counted against DRF. The data is the same size as authhub's: 10,000
users, each with a token, 10,000 sessions, on a SQLite file; passwords
use argon2id with authhub's parameters.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from fixtures import PASSWORD, USERNAME
from harness import Case

GROUP = "anchor"


def _user_call(django_request: Any, authenticator: Any,
               before: Callable[[Any], None] | None = None) -> Callable[[], Any]:
    from rest_framework.request import Request

    authenticators = (authenticator,)

    def call() -> Any:
        if before is not None:
            before(django_request)
        return Request(django_request, authenticators=authenticators).user

    user = call()
    assert getattr(user, "username", None) == USERNAME, f"DRF authenticated {user!r}"
    return call


def token(meta: dict[str, Any]) -> Case:
    from django.test import RequestFactory
    from rest_framework.authentication import TokenAuthentication

    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {meta['drf_token_key']}")
    return Case("DRF TokenAuthentication", GROUP, _user_call(request, TokenAuthentication()),
                note="plaintext key; select_related query")


def basic() -> Case:
    from django.test import RequestFactory
    from rest_framework.authentication import BasicAuthentication

    encoded = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Basic {encoded}")
    return Case("DRF BasicAuthentication", GROUP, _user_call(request, BasicAuthentication()), iterations=2,
                repeats=5, waits=True, note="argon2id t=3 m=64MiB p=4, as authhub")


def session() -> Case:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.test import RequestFactory
    from rest_framework.authentication import SessionAuthentication

    user = User.objects.get(username=USERNAME)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    request = RequestFactory().get("/", HTTP_COOKIE=f"csrftoken=abc; sessionid={store.session_key}")
    sessions = SessionMiddleware(lambda r: None)
    authentication = AuthenticationMiddleware(lambda r: None)

    def middleware(django_request: Any) -> None:
        # What Django's middleware does for every request before the view: a
        # fresh lazy session and a fresh lazy user. Django caches the user on
        # the request object, so the reused request forgets it first, as a new
        # request would not have it.
        for cached in ("_cached_user", "_acached_user"):
            django_request.__dict__.pop(cached, None)
        sessions.process_request(django_request)
        authentication.process_request(django_request)

    return Case("DRF SessionAuthentication", GROUP, _user_call(request, SessionAuthentication(), middleware),
                note="GET; Session + Authentication middleware, CSRF check")
