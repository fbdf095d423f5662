"""RFC 6750 §3 on the wire: the exact status codes and WWW-Authenticate challenges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from authlib.integrations.requests_client import OAuth2Session

import authhub
from authhub import AuthHub, Request, Response, Route
from authhub_oauth import AccessToken, scopes_required
from authhub_oauth.models import OAuthToken

from .conftest import PASSWORD


@scopes_required("write")
def reports(request: Request) -> Response:
    return Response.json({"client": request.auth.client_id, "scopes": sorted(request.auth.scopes)})


class ScopedRoutes:
    """A tiny application plugin: one view that needs the 'write' scope."""

    @authhub.hookimpl
    def serve_routes(self, hub: AuthHub) -> list[Route]:
        return [Route("/reports", reports, ("GET",))]


@pytest.fixture
def hub(authhub_make_hub: Callable[..., AuthHub]) -> AuthHub:
    return authhub_make_hub(schemes=["oauth", "session"], plugins={"scoped": ScopedRoutes()})


def token_for(base: str, service: tuple[str, str], scope: str) -> str:
    client = OAuth2Session(*service, scope=scope)
    return client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")["access_token"]


def get(url: str, token: str | None = None, **headers: str) -> requests.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(url, headers=headers, timeout=10)


def test_no_credentials_is_a_bare_bearer_challenge(base: str) -> None:
    answer = get(f"{base}/protected")

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="authhub"'
    assert "error" not in answer.headers["WWW-Authenticate"]
    assert answer.json()["detail"]


def test_unknown_token_is_invalid_token(base: str) -> None:
    answer = get(f"{base}/whoami", "x" * 40)

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="authhub", error="invalid_token", error_description="The access token is unknown."'
    )
    assert answer.json() == {"detail": "The access token is unknown."}


def test_expired_token_is_invalid_token(hub: AuthHub, base: str, service: tuple[str, str]) -> None:
    token = token_for(base, service, "read")
    with hub.store.session() as session:
        session.execute(sa.update(OAuthToken).values(expires_at=dt.datetime.now(dt.timezone.utc)
                                                     - dt.timedelta(seconds=1)))
    answer = get(f"{base}/whoami", token)

    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert 'error_description="The access token expired."' in answer.headers["WWW-Authenticate"]


def test_revoked_token_is_invalid_token(base: str, service: tuple[str, str]) -> None:
    token = token_for(base, service, "read")
    assert get(f"{base}/whoami", token).status_code == 200
    revoked = requests.post(f"{base}/oauth/revoke", data={"token": token}, auth=service, timeout=10)
    assert revoked.status_code == 200

    answer = get(f"{base}/whoami", token)
    assert answer.status_code == 401
    assert 'error_description="The access token was revoked."' in answer.headers["WWW-Authenticate"]


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer two words", "Bearer t\u00f6ken", "Bearer a=b"])
def test_malformed_bearer_is_invalid_request(base: str, header: str) -> None:
    answer = requests.get(f"{base}/whoami", headers={"Authorization": header.encode("utf-8")}, timeout=10)

    assert answer.status_code == 400
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="authhub", error="invalid_request"')
    assert answer.json()["detail"]


def test_missing_scope_is_insufficient_scope(base: str, service: tuple[str, str]) -> None:
    answer = get(f"{base}/reports", token_for(base, service, "read"))

    assert answer.status_code == 403
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="authhub", error="insufficient_scope"')
    assert challenge.endswith('scope="write"')
    assert answer.json()["detail"]


def test_granted_scope_reaches_the_view(base: str, service: tuple[str, str]) -> None:
    answer = get(f"{base}/reports", token_for(base, service, "read write"))

    assert answer.status_code == 200
    assert answer.json() == {"client": service[0], "scopes": ["read", "write"]}


def test_scoped_view_without_a_token_is_401(base: str) -> None:
    answer = get(f"{base}/reports")

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="authhub"'


def test_token_in_query_string_is_ignored(base: str, service: tuple[str, str]) -> None:
    token = token_for(base, service, "read")
    answer = requests.get(f"{base}/protected", params={"access_token": token}, timeout=10)

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="authhub"'


def test_other_schemes_credentials_are_not_ours(hub: AuthHub) -> None:
    request = Request("GET", "/whoami", [("Authorization", "Basic YWxpY2U6c2VjcmV0")], hub=hub)
    assert not request.identity.is_authenticated


def test_token_of_a_deactivated_user_stops_working(hub: AuthHub, base: str) -> None:
    user = hub.users.create("bob", PASSWORD)
    token = hub.auth_headers("oauth", user)["Authorization"]
    assert requests.get(f"{base}/whoami", headers={"Authorization": token}, timeout=10).json()["user"] == "bob"

    hub.users.deactivate("bob")
    answer = requests.get(f"{base}/whoami", headers={"Authorization": token}, timeout=10)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_token_of_a_user_deactivated_elsewhere_is_refused(hub: AuthHub, base: str) -> None:
    """Another process deactivated the user (no user_changed here): the token is still refused."""
    users = authhub.SQLUserStore.table
    user = hub.users.create("frank", PASSWORD)
    token = hub.auth_headers("oauth", user)["Authorization"]
    with hub.store.session() as session:
        session.execute(sa.update(users).where(users.c.id == user.id).values(is_active=False))

    answer = requests.get(f"{base}/whoami", headers={"Authorization": token}, timeout=10)
    assert answer.status_code == 401
    assert "inactive or deleted" in answer.headers["WWW-Authenticate"]


def test_request_auth_is_the_access_token(hub: AuthHub, alice: Any) -> None:
    bearer = hub.auth_headers("oauth", alice)["Authorization"]
    request = Request("GET", "/", [("Authorization", bearer)], hub=hub)

    assert request.auth_scheme == "oauth"
    assert isinstance(request.auth, AccessToken)
    assert request.auth.user == alice
    assert request.user == alice
    assert request.auth.expires_at > dt.datetime.now(dt.timezone.utc)
    assert bearer.split()[1] not in repr(request.auth)


def test_two_authorization_headers_are_a_bad_request(hub: AuthHub) -> None:
    request = Request("GET", "/", [("Authorization", "Bearer abc"), ("Authorization", "Bearer def")], hub=hub)
    with pytest.raises(authhub.BadRequest):
        request.identity


def test_password_change_revokes_the_users_tokens(hub: AuthHub, base: str) -> None:
    user = hub.users.create("erin", PASSWORD)
    token = hub.auth_headers("oauth", user)["Authorization"]
    assert requests.get(f"{base}/whoami", headers={"Authorization": token}, timeout=10).status_code == 200

    hub.users.set_password("erin", "a brand new passphrase")
    answer = requests.get(f"{base}/whoami", headers={"Authorization": token}, timeout=10)
    assert answer.status_code == 401
    assert 'error_description="The access token was revoked."' in answer.headers["WWW-Authenticate"]
