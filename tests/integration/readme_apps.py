"""Send requests to the documented Python examples and print what came back (for test_readme.py).

``python readme_apps.py DIRECTORY``: DIRECTORY holds the examples word for word as the README
(``wsgi_app.py``) and the Frameworks page, docs/adapters.md, show them (``flask_app.py``,
``starlette_app.py``, ``fastapi_app.py`` and the Django settings lines in ``django_settings.py``)
and is the working directory, so each example's ``AuthHub()`` uses ``./authhub.db``. This script
creates that database with the user ``alice`` and two tokens, asks each application a few
questions and prints the answers as one JSON object. An example that cannot be imported or that
raises gives ``{"error": <traceback>}`` in its place, so one broken example does not hide the
others.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

from authhub import AuthHub
from authhub.testing import FAST_HASHING

#: Django's views for the documented settings: a DRF view under the project's REST_FRAMEWORK
#: defaults, and a plain view that reads the middleware's lazy request.user.
DJANGO_VIEWS = '''
from django.http import JsonResponse
from rest_framework.decorators import api_view
from rest_framework.response import Response


@api_view(["GET"])
def drf_me(request):
    return Response({"user": request.user.get_username()})


def plain_me(request):
    return JsonResponse({"user": request.user.get_username(), "authenticated": request.user.is_authenticated})
'''


def seed() -> dict[str, str]:
    """``alice``, a token without scopes and one with ``reports:read``; their request headers."""
    from authhub_token import create_token

    cheap: dict[str, Any] = dict(FAST_HASHING)  # the examples never check alice's password
    hub = AuthHub(**cheap)
    try:
        hub.upgrade()
        hub.users.create("alice", "correct horse")
        plain = create_token(hub, "alice", name="readme").key
        scoped = create_token(hub, "alice", name="reports", scopes=["reports:read"]).key
    finally:
        hub.close()
    return {"token": f"Token {plain}", "scoped": f"Token {scoped}"}


def wsgi_get(app: Callable[..., Any], path: str, headers: dict[str, str]) -> list[Any]:
    """[status line, body] of a GET through a WSGI application."""
    environ: dict[str, Any] = {"PATH_INFO": path}
    environ.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    setup_testing_defaults(environ)
    started: list[str] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.append(status)

    body = b"".join(app(environ, start_response)).decode()
    return [started[0], body]


def check_wsgi(auth: dict[str, str]) -> dict[str, Any]:
    application = importlib.import_module("wsgi_app").application
    return {
        "anonymous": wsgi_get(application, "/", {})[0],
        "token": wsgi_get(application, "/", {"Authorization": auth["token"]}),
    }


def check_flask(auth: dict[str, str]) -> dict[str, Any]:
    client = importlib.import_module("flask_app").app.test_client()
    anonymous = client.get("/me")
    return {
        "anonymous": [anonymous.status_code, anonymous.headers.get_all("WWW-Authenticate")],
        "token": [client.get("/me", headers={"Authorization": auth["token"]}).json],
        "login page": client.get("/login").status_code,
    }


def check_starlette(auth: dict[str, str]) -> dict[str, Any]:
    from starlette.testclient import TestClient

    with TestClient(importlib.import_module("starlette_app").app) as client:
        anonymous = client.get("/me")
        return {
            "anonymous": [anonymous.status_code, anonymous.headers.get_list("www-authenticate")],
            "token": client.get("/me", headers={"Authorization": auth["token"]}).json(),
            "login page": client.get("/login").status_code,
        }


def check_fastapi(auth: dict[str, str]) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    with TestClient(importlib.import_module("fastapi_app").app) as client:
        return {
            "anonymous": client.get("/me").status_code,
            "token": client.get("/me", headers={"Authorization": auth["token"]}).json(),
            "reports without the scope": client.get("/reports", headers={"Authorization": auth["token"]}).status_code,
            "reports with the scope": client.get("/reports", headers={"Authorization": auth["scoped"]}).json(),
            "login page": client.get("/login").status_code,
        }


def check_django(auth: dict[str, str], directory: Path) -> dict[str, Any]:
    """A project from ``django-admin startproject``, with the documented lines at the end of its settings."""
    subprocess.run([sys.executable, "-m", "django", "startproject", "readme_site", str(directory)], check=True)
    settings = directory / "readme_site" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + (directory / "django_settings.py").read_text())
    (directory / "readme_views.py").write_text(DJANGO_VIEWS)
    # The route line the example gives as a comment, taken from it.
    (route,) = [line.split("# urls.py: ", 1)[1].split(" serves ", 1)[0]
                for line in (directory / "django_settings.py").read_text().splitlines() if "# urls.py: " in line]
    urls = directory / "readme_site" / "urls.py"
    urls.write_text(urls.read_text() + "\nfrom django.urls import include\nimport readme_views\n"
                    'urlpatterns += [path("api/me", readme_views.drf_me), path("me", readme_views.plain_me), '
                    f"{route}]\n")
    os.environ["DJANGO_SETTINGS_MODULE"] = "readme_site.settings"
    import django
    from django.test import Client
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()
    client = Client()
    anonymous = client.get("/api/me")
    return {
        "drf anonymous": [anonymous.status_code, anonymous.headers.get("WWW-Authenticate")],
        "drf token": client.get("/api/me", HTTP_AUTHORIZATION=auth["token"]).json(),
        "plain anonymous": client.get("/me").json(),
        "plain token": client.get("/me", HTTP_AUTHORIZATION=auth["token"]).json(),
        "login page": client.get("/login").status_code,
    }


def main(directory: Path) -> None:
    os.chdir(directory)
    sys.path.insert(0, str(directory))
    auth = seed()
    checks: dict[str, Callable[[], dict[str, Any]]] = {
        "wsgi": lambda: check_wsgi(auth),
        "flask": lambda: check_flask(auth),
        "starlette": lambda: check_starlette(auth),
        "fastapi": lambda: check_fastapi(auth),
        "django": lambda: check_django(auth, directory),
    }
    answers: dict[str, Any] = {}
    for name, check in checks.items():
        try:
            answers[name] = check()
        except Exception:
            answers[name] = {"error": traceback.format_exc()}
    print(json.dumps(answers))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
