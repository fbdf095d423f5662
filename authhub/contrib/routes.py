"""The hub's plugin routes (``/login``, ``/oauth/*``, ...) answered inside a framework.

``hub.routes()`` is what the plugins add to ``authhub serve``; each
adapter mounts them in its framework's way and answers them with
:func:`call_route`, so a route behaves as it does on the reference server.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from authhub.errors import AuthhubError, ConfigurationError
from authhub.http import Response, error_response
from authhub.hub import AuthHub
from authhub.request import RESPONSE_HEADERS, Request
from authhub.routes import PATH_PARAMS, Route

__all__ = ["call_route", "framework_path", "route_table"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def framework_path(path: str, placeholder: Callable[[str], str]) -> str:
    """``path`` with each ``{name}`` segment written the framework's way (Flask: ``<name>``)."""
    return _PLACEHOLDER.sub(lambda found: placeholder(found.group(1)), path)


def route_table(hub: AuthHub) -> dict[str, Route]:
    """The hub's plugin routes by path; two plugins serving one path are a configuration error."""
    table: dict[str, Route] = {}
    owners: dict[str, str] = {}
    for owner, route in hub.routes():
        if route.path in table:
            raise ConfigurationError(
                f"route {route.path!r} of plugin {owner!r} is already served by {owners[route.path]!r}"
            )
        table[route.path] = route
        owners[route.path] = owner
    return table


def call_route(route: Route, request: Request) -> Response:
    """Answer ``request`` with ``route``'s handler, as ``authhub serve`` does.

    An :class:`authhub.AuthhubError` becomes its refusal (401 with the
    challenges, ...); any other exception is left to the framework. Header
    lines the chain queued on the request are added to the response and
    taken off the request, so an adapter's middleware does not add them
    again. A ``HEAD`` request gets the headers without the body.
    """
    hub = request.hub
    if hub is None:
        raise RuntimeError("call_route needs a request bound to its hub")
    # The framework matched the path; the values of its {name} segments are read as the reference server reads them.
    request.state[PATH_PARAMS] = route.match(request.path) or {}
    try:
        response = route.handler(request)
    except AuthhubError as error:
        response = error_response(hub, request, error)
    pending = request.state.pop(RESPONSE_HEADERS, None) or []
    body = b"" if request.method == "HEAD" else response.body
    return Response(response.status, [*response.headers, *pending], body)
