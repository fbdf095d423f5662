"""The hub's plugin routes (``/login``, ``/oauth/*``, ...) as Django URL patterns.

``urlpatterns = [..., path("", include("authhub.contrib.django.urls"))]``
serves them at the paths ``authhub serve`` uses (their pages link to those
paths, so include them without a prefix); put your own patterns first to
take a path over. They do their own CSRF checks, so Django's are off for them.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from authhub.contrib.django.apps import authhub_config
from authhub.contrib.django.middleware import authhub_request, django_response
from authhub.contrib.routes import call_route, framework_path

__all__ = ["hub_urlpatterns", "serve_route"]


@csrf_exempt
def serve_route(request: HttpRequest, route_path: str, **_segments: str) -> HttpResponse:
    """Answer the hub's plugin route at ``route_path`` (404 if the current hub has none there).

    ``_segments`` are Django's values for the route's ``{name}`` segments; :func:`call_route` reads them itself.
    """
    config = authhub_config()
    route = config.routes.get(route_path)
    if route is None:
        raise Http404(f"authhub serves no route at {route_path}")
    if request.method not in route.methods:
        return HttpResponseNotAllowed(route.methods)
    return django_response(call_route(route, authhub_request(request, config.hub)))


def hub_urlpatterns() -> list[URLPattern]:
    """One URL pattern per plugin route of the project's hub, at its own path.

    Each is named ``"authhub" + path`` (``{% url "authhub/login" %}``).
    """
    return [
        path(framework_path(route_path, lambda name: f"<str:{name}>").lstrip("/"), serve_route,
             {"route_path": route_path}, name=f"authhub{route_path}")
        for route_path in authhub_config().routes
    ]
