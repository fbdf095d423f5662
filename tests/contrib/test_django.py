"""The Django middleware and decorator against real Django views and its test client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path

import authhub
from authhub.contrib.django import AuthhubMiddleware, get_hub, login_required


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "user": request.user.username,
            "authenticated": request.user.is_authenticated,
            "scheme": request.authhub.auth_scheme,
        }
    )


@login_required
def private(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.username})


@login_required(schemes=["pass"])
def pass_only(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.username, "scheme": request.authhub.auth_scheme})


def echo_form(request: HttpRequest) -> JsonResponse:
    # The scheme reads the body first; Django must still see the form.
    return JsonResponse({"user": request.user.username, "field": request.POST.get("field")})


def untouched(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class URLS:
    """The URLconf (Django accepts any object with ``urlpatterns``)."""

    urlpatterns = [
        path("whoami", whoami),
        path("private", private),
        path("pass-only", pass_only),
        path("form", echo_form),
        path("untouched", untouched),
    ]


@pytest.fixture
def client(hub: authhub.AuthHub) -> Any:
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        yield Client()


def test_the_hub_comes_from_the_setting_and_changes_with_it(hub: authhub.AuthHub) -> None:
    with override_settings(AUTHHUB=hub):
        assert get_hub() is hub
    with override_settings(AUTHHUB={"load_entry_points": False, "environ": {}, "schemes": []}):
        assert get_hub() is not hub
        assert get_hub().schemes == ()


def test_request_user_is_the_anonymous_user_without_credentials(client: Client) -> None:
    response = client.get("/whoami")
    assert response.status_code == 200
    assert response.json() == {"user": None, "authenticated": False, "scheme": None}


def test_request_user_is_the_schemes_user(client: Client, alice: Any, authhub_auth_headers: Any) -> None:
    response = client.get("/whoami", headers=authhub_auth_headers(alice, "key"))
    assert response.json() == {"user": "alice", "authenticated": True, "scheme": "key"}


def test_request_user_is_lazy(client: Client) -> None:
    # Wrong credentials, but the view never reads request.user: the chain never runs.
    response = client.get("/untouched", headers={"Authorization": "Key unknown"})
    assert response.status_code == 200


def test_wrong_credentials_become_401_with_the_challenges(client: Client, alice: Any) -> None:
    response = client.get("/whoami", headers={"Authorization": "Pass alice:nope"})
    assert response.status_code == 401
    assert json.loads(response.content) == {"detail": "Invalid username/password."}
    # Django keeps one value per header name: the challenges share one line (RFC 9110 list form).
    assert response.headers["WWW-Authenticate"] == 'Key realm="tests", Pass'


def test_login_required_refuses_anonymous(client: Client) -> None:
    response = client.get("/private")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_login_required_lets_a_user_through(client: Client, alice: Any, authhub_auth_headers: Any) -> None:
    response = client.get("/private", headers=authhub_auth_headers(alice, "pass"))
    assert response.json() == {"user": "alice"}


def test_per_view_schemes(client: Client, alice: Any, authhub_auth_headers: Any) -> None:
    refused = client.get("/pass-only", headers=authhub_auth_headers(alice, "key"))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Pass"
    accepted = client.get("/pass-only", headers=authhub_auth_headers(alice, "pass"))
    assert accepted.json() == {"user": "alice", "scheme": "pass"}


def test_a_scheme_reading_the_body_leaves_the_form_to_django(authhub_make_hub: Any, authhub_user: Any) -> None:
    class FormScheme:
        @authhub.hookimpl
        def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> Any:
            user = request.form().get("user")
            return None if user is None else (hub.users.get_by_username(user), None)

    hub = authhub_make_hub(load_entry_points=False, plugins={"form": FormScheme()}, schemes=["form"])
    authhub_user("carol", hub=hub)
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        response = Client().post("/form", "user=carol&field=kept", content_type="application/x-www-form-urlencoded")
    assert response.json() == {"user": "carol", "field": "kept"}


def test_the_middleware_leaves_other_exceptions_to_django() -> None:
    middleware = AuthhubMiddleware(lambda request: JsonResponse({}))
    request = HttpRequest()
    assert middleware.process_exception(request, ValueError("not ours")) is None


def test_real_token_plugin_protects_a_django_view(
    token_hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    bob = authhub_user("bob", hub=token_hub)
    with override_settings(AUTHHUB=token_hub, ROOT_URLCONF=URLS):
        client = Client()
        assert client.get("/private").status_code == 401
        response = client.get("/private", headers=authhub_auth_headers(bob, "token"))
    assert response.status_code == 200
    assert response.json() == {"user": "bob"}


def test_under_asgi_too(hub: authhub.AuthHub, alice: Any, authhub_auth_headers: Any) -> None:
    from django.test import AsyncClient

    async def ask() -> Any:
        return await AsyncClient().get("/whoami", headers=authhub_auth_headers(alice, "key"))

    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        response = asyncio.run(ask())
    assert response.json() == {"user": "alice", "authenticated": True, "scheme": "key"}
