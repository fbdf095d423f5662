"""The DRF authentication class in a real DRF project: permissions and throttling kept."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import path
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

import authhub
from authhub.contrib.drf import AuthhubAuthentication


class Me(APIView):
    """Uses the project defaults: AuthhubAuthentication + IsAuthenticated."""

    def get(self, request: Request) -> Response:
        return Response(
            {
                "user": request.user.username,
                "key_id": getattr(request.auth, "key_id", None),
            }
        )


class Public(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"authenticated": request.user.is_authenticated})


class PassOnly(AuthhubAuthentication):
    schemes = ["pass"]


class PassOnlyView(APIView):
    authentication_classes = [PassOnly]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.username})


class TwoPerMinute(UserRateThrottle):
    rate = "2/min"


class AdminOnly(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.get_username(), "staff": request.user.is_staff})


class ReadOrWrite(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    def get(self, request: Request) -> Response:
        return Response({"read": True})

    def post(self, request: Request) -> Response:
        return Response({"written_by": request.user.get_username()})


class ThrottleKey(APIView):
    def get(self, request: Request) -> Response:
        return Response({"key": UserRateThrottle().get_cache_key(request, self), "pk": request.user.pk})


class Throttled(APIView):
    throttle_classes = [TwoPerMinute]

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.username})


class URLS:
    urlpatterns = [
        path("me", Me.as_view()),
        path("public", Public.as_view()),
        path("pass-only", PassOnlyView.as_view()),
        path("throttled", Throttled.as_view()),
        path("admin-only", AdminOnly.as_view()),
        path("read-or-write", ReadOrWrite.as_view()),
        path("throttle-key", ThrottleKey.as_view()),
    ]


@pytest.fixture
def client(hub: authhub.AuthHub) -> Any:
    cache.clear()
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        yield APIClient()


def test_is_authenticated_refuses_anonymous_with_the_first_challenge(client: APIClient) -> None:
    response = client.get("/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["WWW-Authenticate"] == 'Key realm="tests"'


def test_the_chains_user_and_auth_are_request_user_and_auth(
    client: APIClient, alice: Any, authhub_auth_headers: Any
) -> None:
    response = client.get("/me", headers=authhub_auth_headers(alice, "key"))
    assert response.status_code == 200
    assert response.json() == {"user": "alice", "key_id": 1}


def test_wrong_credentials_are_drfs_authentication_failed(client: APIClient, alice: Any) -> None:
    response = client.get("/public", headers={"Authorization": "Pass alice:wrong"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username/password."}
    assert response.headers["WWW-Authenticate"] == 'Key realm="tests"'


def test_anonymous_is_drfs_unauthenticated_user_on_an_open_view(client: APIClient) -> None:
    response = client.get("/public")
    assert response.json() == {"authenticated": False}


def test_a_subclass_with_its_own_schemes(client: APIClient, alice: Any, authhub_auth_headers: Any) -> None:
    refused = client.get("/pass-only", headers=authhub_auth_headers(alice, "key"))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Pass"
    accepted = client.get("/pass-only", headers=authhub_auth_headers(alice, "pass"))
    assert accepted.json() == {"user": "alice"}


def test_user_rate_throttle_counts_per_authhub_user(
    client: APIClient, alice: Any, authhub_user: Any, authhub_auth_headers: Any, hub: authhub.AuthHub
) -> None:
    headers = authhub_auth_headers(alice, "key")
    statuses = [client.get("/throttled", headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    bob = authhub_user("bob", hub=hub)
    assert client.get("/throttled", headers=authhub_auth_headers(bob, "key")).status_code == 200


def test_no_challenge_in_the_chain_means_403(authhub_make_hub: Any) -> None:
    class Silent:
        @authhub.hookimpl
        def authenticate(self) -> None:
            return None

    hub = authhub_make_hub(load_entry_points=False, plugins={"silent": Silent()}, schemes=["silent"])
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        response = APIClient().get("/me")
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize(
    ("error", "status", "header"),
    [
        (authhub.TooManyRequests(retry_after=42), 429, ("Retry-After", "42")),
        (authhub.PermissionDenied("CSRF check failed."), 403, None),
        (authhub.StoreUnavailable(), 503, None),
        (authhub.BadRequest("More than one Authorization header."), 400, None),
    ],
)
def test_other_authhub_errors_keep_status_and_detail(
    authhub_make_hub: Any, error: authhub.AuthhubError, status: int, header: tuple[str, str] | None
) -> None:
    class Raising:
        @authhub.hookimpl
        def authenticate(self) -> None:
            raise error

    hub = authhub_make_hub(load_entry_points=False, plugins={"raising": Raising()}, schemes=["raising"])
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        response = APIClient().get("/public")
    assert response.status_code == status
    assert response.json()["detail"].startswith(error.detail.rstrip("."))
    if header is not None:
        assert response.headers[header[0]] == header[1]


def test_a_broken_plugin_fails_closed(authhub_make_hub: Any) -> None:
    class Broken:
        @authhub.hookimpl
        def authenticate(self) -> None:
            raise KeyError("bug")

    hub = authhub_make_hub(load_entry_points=False, plugins={"broken": Broken()}, schemes=["broken"])
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        response = APIClient().get("/public")
    assert response.status_code == 500
    assert response.json() == {"detail": "Authentication failed because of an internal error."}


def test_real_token_plugin_protects_a_drf_view(
    token_hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    bob = authhub_user("bob", hub=token_hub)
    with override_settings(AUTHHUB=token_hub, ROOT_URLCONF=URLS):
        client = APIClient()
        refused = client.get("/me")
        response = client.get("/me", headers=authhub_auth_headers(bob, "token"))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Token")
    assert response.status_code == 200
    assert response.json()["user"] == "bob"


def test_is_admin_user_answers_401_and_403_never_500(
    client: APIClient, alice: Any, authhub_auth_headers: Any
) -> None:
    anonymous = client.get("/admin-only")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Key realm="tests"'
    not_staff = client.get("/admin-only", headers=authhub_auth_headers(alice, "key"))
    assert not_staff.status_code == 403
    assert not_staff.json() == {"detail": "You do not have permission to perform this action."}


def test_is_admin_user_lets_a_staff_user_of_the_store_through(authhub_make_hub: Any, key_scheme: Any) -> None:
    from .test_django import StaffUser, staff_hub

    erin = StaffUser("u-1", "erin", is_staff=True)
    hub = staff_hub(authhub_make_hub, key_scheme, erin)
    with override_settings(AUTHHUB=hub, ROOT_URLCONF=URLS):
        response = APIClient().get("/admin-only", headers={"Authorization": f"Key {key_scheme.issue(erin)}"})
    assert response.status_code == 200
    assert response.json() == {"user": "erin", "staff": True}


def test_is_authenticated_or_read_only(client: APIClient, alice: Any, authhub_auth_headers: Any) -> None:
    assert client.get("/read-or-write").json() == {"read": True}
    refused = client.post("/read-or-write")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Key realm="tests"'
    written = client.post("/read-or-write", headers=authhub_auth_headers(alice, "pass"))
    assert written.json() == {"written_by": "alice"}


def test_throttles_key_on_the_users_pk(client: APIClient, alice: Any, authhub_auth_headers: Any) -> None:
    response = client.get("/throttle-key", headers=authhub_auth_headers(alice, "key"))
    assert response.json() == {"key": f"throttle_user_{alice.id}", "pk": alice.id}
