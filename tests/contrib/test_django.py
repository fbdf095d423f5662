"""The Django application, middleware, users and decorator against real Django views and its test client."""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import weakref
from typing import Any
from urllib.parse import urlencode

import attrs
import pytest
from django.apps import apps
from django.contrib.auth.models import User as DjangoModelUser
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.test import Client, override_settings
from django.urls import include, path

import authhub
from authhub.contrib import django as contrib_django
from authhub.contrib.django import (
    AuthhubConfig,
    AuthhubMiddleware,
    DjangoAnonymousUser,
    DjangoUser,
    get_hub,
    hub_urlpatterns,
    login_required,
)

from .conftest import login_form_fields

FORM = "application/x-www-form-urlencoded"


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "user": request.user.username,
            "authenticated": request.user.is_authenticated,
            "scheme": request.authhub.auth_scheme,
        }
    )


def django_like(request: HttpRequest) -> JsonResponse:
    """What Django code reads of ``request.user``."""
    user: Any = request.user
    return JsonResponse(
        {
            "is_authenticated": user.is_authenticated,
            "is_anonymous": user.is_anonymous,
            "get_username": user.get_username(),
            "pk": user.pk,
            "is_active": user.is_active,
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
            "has_perm": user.has_perm("reports.view_report"),
            "has_perms": user.has_perms(["reports.view_report", "reports.change_report"]),
            "has_module_perms": user.has_module_perms("reports"),
            "str": str(user),
        }
    )


TEMPLATE = (
    "{{ user.get_username }}|{{ user }}|{{ user.is_authenticated }}|"
    "{% if perms.reports.view_report %}can view{% else %}cannot view{% endif %}"
)


def templated(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(TEMPLATE).render(request=request))


@login_required
def private(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.username, "django_user": isinstance(request.user, DjangoUser)})


@login_required(schemes=["pass"])
def pass_only(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.username, "scheme": request.authhub.auth_scheme})


def echo_form(request: HttpRequest) -> JsonResponse:
    # The scheme reads the body first; Django must still see the form.
    return JsonResponse({"user": request.user.username, "field": request.POST.get("field")})


def untouched(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


VIEWS = [
    path("whoami", whoami),
    path("django-like", django_like),
    path("templated", templated),
    path("private", private),
    path("pass-only", pass_only),
    path("form", echo_form),
    path("untouched", untouched),
]


class URLS:
    """The URLconf (Django accepts any object with ``urlpatterns``)."""

    urlpatterns = VIEWS


@pytest.fixture
def client(hub: authhub.AuthHub) -> Any:
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        yield Client()


# -- the hub on the application config ------------------------------------------------


def test_the_hub_comes_from_the_setting_and_changes_with_it(hub: authhub.AuthHub) -> None:
    with override_settings(AUTHHUB=hub):
        assert get_hub() is hub
        assert apps.get_app_config("authhub").hub is hub
    with override_settings(AUTHHUB={"load_entry_points": False, "environ": {}, "schemes": []}):
        assert get_hub() is not hub
        assert get_hub().schemes == ()


def test_no_module_keeps_a_hub(hub: authhub.AuthHub) -> None:
    with override_settings(AUTHHUB=hub):
        assert get_hub() is hub
        for name in ("apps", "middleware", "users", "views"):
            module = importlib.import_module(f"authhub.contrib.django.{name}")
            assert not [value for value in vars(module).values() if isinstance(value, authhub.AuthHub)], name
    assert isinstance(apps.get_app_config("authhub"), AuthhubConfig)


class ClosingScheme(authhub.Scheme):
    closed: list[str]

    @authhub.hookimpl
    def authenticate(self) -> None:
        return None

    def close(self) -> None:
        self.closed.append(self.name)


class Closing:
    def __init__(self) -> None:
        self.closed: list[str] = []

    @authhub.hookimpl
    def create_scheme(self, hub: authhub.AuthHub, name: str, settings: Any) -> ClosingScheme:
        scheme = ClosingScheme(hub, name, settings)
        scheme.closed = self.closed
        return scheme


def test_a_hub_built_from_the_setting_is_closed_and_dropped_when_it_changes(hub: authhub.AuthHub) -> None:
    plugin = Closing()
    settings = {"load_entry_points": False, "environ": {}, "plugins": {"closing": plugin}, "database_url": "sqlite://"}
    with override_settings(AUTHHUB=settings):
        built = weakref.ref(get_hub())
        assert built() is not None and built().schemes == ("closing",)
    gc.collect()
    assert plugin.closed == ["closing"]
    assert built() is None


def test_a_hub_handed_in_stays_open(hub: authhub.AuthHub, alice: Any, authhub_auth_headers: Any) -> None:
    with override_settings(AUTHHUB=hub):
        pass
    headers = authhub_auth_headers(alice, "key")
    assert hub.authenticate(authhub.Request("GET", "/", list(headers.items()), hub=hub)).user == alice


def test_without_the_application_get_hub_says_what_to_install() -> None:
    with (
        override_settings(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"]),
        pytest.raises(ImproperlyConfigured, match='add "authhub.contrib.django" to INSTALLED_APPS'),
    ):
        get_hub()


def test_a_wrong_setting_is_refused_when_the_hub_is_built() -> None:
    with (
        pytest.raises(authhub.ConfigurationError, match="nosuch"),
        override_settings(AUTHHUB={"load_entry_points": False, "environ": {}, "schemes": ["nosuch"]}),
    ):
        pass  # pragma: no cover - the override itself raises


# -- request.user --------------------------------------------------------------------------


def test_request_user_is_the_anonymous_user_without_credentials(client: Client) -> None:
    response = client.get("/whoami")
    assert response.status_code == 200
    assert response.json() == {"user": "", "authenticated": False, "scheme": None}


def test_request_user_is_the_schemes_user(client: Client, alice: Any, authhub_auth_headers: Any) -> None:
    response = client.get("/whoami", headers=authhub_auth_headers(alice, "key"))
    assert response.json() == {"user": "alice", "authenticated": True, "scheme": "key"}


def test_an_authhub_user_reads_like_a_django_user(client: Client, alice: Any, authhub_auth_headers: Any) -> None:
    response = client.get("/django-like", headers=authhub_auth_headers(alice, "key"))
    assert response.json() == {
        "is_authenticated": True,
        "is_anonymous": False,
        "get_username": "alice",
        "pk": alice.id,
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
        "has_perm": False,
        "has_perms": False,
        "has_module_perms": False,
        "str": "alice",
    }


def test_the_anonymous_user_reads_like_djangos(client: Client) -> None:
    assert client.get("/django-like").json() == {
        "is_authenticated": False,
        "is_anonymous": True,
        "get_username": "",
        "pk": None,
        "is_active": False,
        "is_staff": False,
        "is_superuser": False,
        "has_perm": False,
        "has_perms": False,
        "has_module_perms": False,
        "str": "AnonymousUser",
    }


def test_a_template_renders_the_user(client: Client, alice: Any, authhub_auth_headers: Any) -> None:
    signed_in = client.get("/templated", headers=authhub_auth_headers(alice, "key"))
    assert signed_in.content.decode() == "alice|alice|True|cannot view"
    assert client.get("/templated").content.decode() == "|AnonymousUser|False|cannot view"


@attrs.frozen
class StaffUser:
    """A user of an application's own store, with Django's flags and its own permissions."""

    id: str
    username: str
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    permissions: frozenset[str] = frozenset()
    email: str = ""

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return perm in self.permissions

    def has_module_perms(self, app_label: str) -> bool:
        return any(perm.startswith(f"{app_label}.") for perm in self.permissions)


class StaffStore:
    """A user store (``user_store`` hook) handing out :class:`StaffUser`s, or Django's own user model."""

    def __init__(self, *users: Any) -> None:
        self.users = {str(user.id): user for user in users}

    @authhub.hookimpl
    def user_store(self) -> StaffStore:
        return self

    def get(self, user_id: Any) -> Any:
        return self.users.get(str(user_id))

    def get_by_username(self, username: str) -> Any:
        return next((user for user in self.users.values() if user.username == username), None)

    def check_password(self, username: str, password: str) -> Any:
        raise authhub.AuthenticationFailed("Invalid username/password.")


def staff_hub(authhub_make_hub: Any, key_scheme: Any, *users: Any) -> authhub.AuthHub:
    return authhub_make_hub(
        load_entry_points=False, plugins={"key": key_scheme, "store": StaffStore(*users)}, schemes=["key"]
    )


def test_flags_and_permissions_come_from_the_store_user(authhub_make_hub: Any, key_scheme: Any) -> None:
    editor = StaffUser("u-1", "erin", is_staff=True, permissions=frozenset({"reports.view_report"}),
                       email="erin@example.org")
    root = StaffUser("u-2", "root", is_superuser=True)
    hub = staff_hub(authhub_make_hub, key_scheme, editor, root)
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        client = Client()
        as_editor = client.get("/django-like", headers={"Authorization": f"Key {key_scheme.issue(editor)}"}).json()
        as_root = client.get("/django-like", headers={"Authorization": f"Key {key_scheme.issue(root)}"}).json()
        rendered = client.get("/templated", headers={"Authorization": f"Key {key_scheme.issue(editor)}"})
    assert (as_editor["pk"], as_editor["is_staff"], as_editor["is_superuser"]) == ("u-1", True, False)
    assert (as_editor["has_perm"], as_editor["has_perms"], as_editor["has_module_perms"]) == (True, False, True)
    assert (as_root["is_staff"], as_root["is_superuser"]) == (False, True)
    assert (as_root["has_perm"], as_root["has_perms"], as_root["has_module_perms"]) == (True, True, True)
    assert rendered.content.decode() == "erin|erin|True|can view"


def test_the_store_users_own_attributes_stay_reachable() -> None:
    user = DjangoUser(StaffUser("u-1", "erin", email="erin@example.org"))
    assert user.email == "erin@example.org"
    assert user.authhub_user.username == "erin"
    assert user == DjangoUser(StaffUser("u-1", "erin (renamed)"))
    assert repr(user) == "<DjangoUser 'erin'>"


def test_has_perms_refuses_a_single_string_as_django_does() -> None:
    for user in (DjangoUser(StaffUser("u-1", "erin")), DjangoAnonymousUser()):
        with pytest.raises(ValueError, match="iterable of permissions"):
            user.has_perms("reports.view_report")


def test_a_store_of_django_users_hands_them_over_unwrapped(authhub_make_hub: Any, key_scheme: Any) -> None:
    model_user = DjangoModelUser(id=7, username="dj", is_staff=True)
    hub = staff_hub(authhub_make_hub, key_scheme, model_user)
    seen: list[Any] = []

    def capture(request: HttpRequest) -> JsonResponse:
        seen.append(request.user)
        return JsonResponse({"staff": request.user.is_staff, "model": isinstance(request.user, DjangoModelUser)})

    class Capturing:
        urlpatterns = [path("capture", capture)]

    with override_settings(AUTHHUB=hub, ROOT_URLCONF=Capturing):
        response = Client().get("/capture", headers={"Authorization": f"Key {key_scheme.issue(model_user)}"})
    assert response.json() == {"staff": True, "model": True}
    assert seen == [model_user]


def test_a_configured_anonymous_user_is_kept(authhub_make_hub: Any, key_scheme: Any) -> None:
    hub = authhub_make_hub(
        load_entry_points=False, plugins={"key": key_scheme}, schemes=["key"],
        unauthenticated_user="django.contrib.auth.models:AnonymousUser",
    )
    from django.contrib.auth.models import AnonymousUser as DjangosAnonymousUser

    seen: list[Any] = []

    def capture(request: HttpRequest) -> JsonResponse:
        seen.append(isinstance(request.user, DjangosAnonymousUser))
        return JsonResponse({})

    class Capturing:
        urlpatterns = [path("capture", capture)]

    with override_settings(AUTHHUB=hub, ROOT_URLCONF=Capturing):
        Client().get("/capture")
    assert seen == [True]


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
    assert response.json() == {"user": "alice", "django_user": True}


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
    assert response.json() == {"user": "bob", "django_user": True}


def test_under_asgi_too(hub: authhub.AuthHub, alice: Any, authhub_auth_headers: Any) -> None:
    from django.test import AsyncClient

    async def ask() -> Any:
        return await AsyncClient().get("/whoami", headers=authhub_auth_headers(alice, "key"))

    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        response = asyncio.run(ask())
    assert response.json() == {"user": "alice", "authenticated": True, "scheme": "key"}


# -- the hub's plugin routes -------------------------------------------------------------


class WithHubRoutes:
    """The project's views first, then the hub's plugin routes."""

    @property
    def urlpatterns(self) -> list[Any]:
        return [*VIEWS, *hub_urlpatterns()]


def test_the_session_login_page_signs_in_through_django(session_hub: authhub.AuthHub, authhub_user: Any) -> None:
    authhub_user("dora", "dora's password", hub=session_hub)
    with override_settings(AUTHHUB=session_hub, ROOT_URLCONF=WithHubRoutes()):
        client = Client()
        page = client.get("/login?next=/whoami")
        assert page.status_code == 200
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        fields = login_form_fields(page.content.decode())
        wrong = client.post("/login", urlencode({**fields, "username": "dora", "password": "wrong"}), content_type=FORM)
        assert "Invalid username/password." in wrong.content.decode()
        signed_in = client.post("/login", urlencode({**fields, "username": "dora", "password": "dora's password"}),
                                content_type=FORM)
        assert signed_in.status_code == 303
        assert signed_in.headers["Location"] == "/whoami"
        assert client.get("/whoami").json() == {"user": "dora", "authenticated": True, "scheme": "session"}


def test_plugin_routes_answer_like_authhub_serve(session_hub: authhub.AuthHub) -> None:
    with override_settings(AUTHHUB=session_hub, ROOT_URLCONF=WithHubRoutes()):
        client = Client()
        not_allowed = client.delete("/login")
        no_csrf = client.post("/login", "username=dora&password=x", content_type=FORM)
        head = client.head("/login")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["Allow"] == "GET, HEAD, POST"
    assert no_csrf.status_code == 403
    assert no_csrf.json() == {"detail": "CSRF Failed: CSRF cookie not set."}
    assert head.status_code == 200 and head.content == b""


def test_the_urls_module_serves_the_routes(session_hub: authhub.AuthHub) -> None:
    with override_settings(AUTHHUB=session_hub):
        urls = importlib.reload(importlib.import_module("authhub.contrib.django.urls"))

        class Including:
            urlpatterns = [path("", include(urls))]

        with override_settings(ROOT_URLCONF=Including):
            assert Client().get("/login").status_code == 200
    names = {pattern.name for pattern in urls.urlpatterns}
    assert {"authhub/", "authhub/login", "authhub/logout"} <= names
    assert len(names) == len(session_hub.routes())
    assert contrib_django.hub_urlpatterns is hub_urlpatterns
