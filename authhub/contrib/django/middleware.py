"""The middleware that sets ``request.user`` lazily, and ``login_required`` for views.

``AuthhubMiddleware`` makes ``request.user`` run the hub's chain the first
time it is read, like Django's own; ``request.authhub`` is the
:class:`authhub.Request` with ``.auth`` and ``.auth_scheme``. The hub is
the project's (:func:`authhub.contrib.django.get_hub`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from http.cookies import SimpleCookie
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from authhub.contrib import joined_headers
from authhub.contrib.django.apps import get_hub
from authhub.contrib.django.users import django_user
from authhub.errors import AuthhubError, NotAuthenticated
from authhub.http import Response, error_response
from authhub.hub import AuthHub
from authhub.request import RESPONSE_HEADERS, Request

__all__ = ["AuthhubMiddleware", "authhub_request", "django_response", "login_required"]


class _DjangoBody:
    """``wsgi.input`` for authhub that reads through Django's cached ``request.body``.

    Reading Django's raw stream directly would leave ``request.POST`` empty.
    """

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def read(self, size: int = -1) -> bytes:
        return self._request.body


def authhub_request(request: HttpRequest, hub: AuthHub | None = None) -> Request:
    """``request`` as an :class:`authhub.Request`, built once and kept as ``request.authhub``."""
    existing = getattr(request, "authhub", None)
    if isinstance(existing, Request):
        return existing
    environ = {
        **request.META,
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": _DjangoBody(request),
        # Under ASGI the path in META is already text, not PEP 3333's latin-1.
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path.encode("utf-8").decode("latin-1"),
    }
    converted = Request.from_wsgi(environ, hub or get_hub())
    request.authhub = converted  # type: ignore[attr-defined]
    return converted


def _hub_of(request: Request) -> AuthHub:
    assert request.hub is not None  # authhub_request always binds one
    return request.hub


def django_response(response: Response) -> HttpResponse:
    """An :class:`authhub.Response` as a Django ``HttpResponse``.

    Django keeps one value per header name, so repeated challenges share
    one ``WWW-Authenticate`` line (RFC 9110 allows the list form).
    """
    converted = HttpResponse(response.body, status=response.status)
    _apply_headers(converted, response.headers)
    return converted


def _apply_headers(response: HttpResponse, lines: Sequence[tuple[str, str]]) -> None:
    plain = [(name, value) for name, value in lines if name.lower() != "set-cookie"]
    for name, value in joined_headers(plain).items():
        response.headers[name] = value
    for name, value in lines:
        if name.lower() == "set-cookie":
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            for key, morsel in jar.items():
                response.cookies[key] = morsel


class AuthhubMiddleware:
    """Set ``request.user`` (lazily) and ``request.authhub``; answer authhub errors.

    An :class:`authhub.AuthhubError` escaping a view - wrong credentials
    found when it read ``request.user``, or :func:`login_required` -
    becomes the core's JSON refusal with the challenges.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        converted = authhub_request(request)
        # a lazy user, as Django's AuthenticationMiddleware sets (its stubs type the attribute as a user)
        request.user = SimpleLazyObject(lambda: django_user(converted.identity))  # type: ignore[assignment]
        response = self.get_response(request)
        pending = converted.state.get(RESPONSE_HEADERS)
        if pending:
            _apply_headers(response, pending)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, AuthhubError):
            return None
        converted = authhub_request(request)
        return django_response(error_response(_hub_of(converted), converted, exception))


def login_required(view: Callable[..., Any] | None = None, *, schemes: Sequence[str] | None = None) -> Any:
    """Refuse anonymous requests to a Django view: 401 with the challenges, or 403.

    Unlike ``django.contrib.auth.decorators.login_required`` it never
    redirects to a login page: it answers like an API. ``schemes`` gives
    the view a chain of its own.
    """
    if view is None:
        return functools.partial(login_required, schemes=schemes)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        converted = authhub_request(request)
        hub = _hub_of(converted)
        try:
            if schemes is not None:
                converted.identity = hub.authenticate(converted, schemes)
            if not converted.identity.is_authenticated:
                raise NotAuthenticated()
        except AuthhubError as error:
            return django_response(error_response(hub, converted, error, list(schemes or ()) or None))
        request.user = django_user(converted.identity)
        response: HttpResponse = view(request, *args, **kwargs)
        return response

    return wrapper
