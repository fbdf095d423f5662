"""OAuth with an application's own user store: users in ``app_account``, UUID string ids.

The consent page's login (authhub-session), the codes and the tokens all go
through ``hub.users``; deactivating a user in the application's table,
behind authhub's back, is refused on that user's next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from authhub import AuthHub, Request
from authhub_oauth.clients import revoke_tokens
from authhub_oauth.models import AuthorizationCode, OAuthToken

from .conftest import PASSWORD, REDIRECT_URI, Browser


@pytest.fixture
def hub(authhub_account_hub: Callable[..., AuthHub]) -> AuthHub:
    return authhub_account_hub(schemes=["oauth", "session"])


@pytest.fixture
def alice(hub: AuthHub) -> Any:
    return hub.users.add("alice", PASSWORD)


def code_flow(base: str, browser: Browser, webapp: tuple[str, str]) -> tuple[OAuth2Session, dict[str, Any]]:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = generate_token(64)
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    location = browser.authorize(url).headers["Location"]
    token = client.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier)
    return client, token


def test_the_users_are_the_applications(hub: AuthHub, alice: Any) -> None:
    assert isinstance(alice.id, str)
    assert uuid.UUID(alice.id)
    assert not hasattr(hub.users, "create")


def test_code_flow_with_consent(
    hub: AuthHub, base: str, browser: Browser, webapp: tuple[str, str], alice: Any
) -> None:
    client, token = code_flow(base, browser, webapp)

    assert client.get(f"{base}/whoami").json() == {"authenticated": True, "user": "alice", "scheme": "oauth"}
    with hub.store.session() as session:
        assert session.scalars(sa.select(AuthorizationCode.user_id)).all() == [alice.id]
        assert session.scalars(sa.select(OAuthToken.user_id)).all() == [alice.id]
    info = client.introspect_token(f"{base}/oauth/introspect", token=token["access_token"]).json()
    assert (info["active"], info["username"], info["sub"]) == (True, "alice", alice.id)

    refreshed = client.refresh_token(f"{base}/oauth/token")
    assert refreshed["access_token"] != token["access_token"]
    assert client.get(f"{base}/whoami").json()["user"] == "alice"


def test_request_auth_of_an_application_user(hub: AuthHub, alice: Any) -> None:
    bearer = hub.auth_headers("oauth", alice)["Authorization"]
    identity = Request("GET", "/", [("Authorization", bearer)], hub=hub).identity

    assert identity.scheme == "oauth"
    assert identity.user == alice
    assert identity.auth.user == alice


def test_client_credentials(hub: AuthHub, base: str, service: tuple[str, str]) -> None:
    client = OAuth2Session(*service, scope="read")
    client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")

    assert client.get(f"{base}/whoami").json() == {
        "authenticated": True, "user": f"client:{service[0]}", "scheme": "oauth"}


def test_disabled_in_the_application_is_refused_on_the_next_request(
    hub: AuthHub, base: str, browser: Browser, webapp: tuple[str, str], alice: Any
) -> None:
    client, _token = code_flow(base, browser, webapp)
    assert client.get(f"{base}/whoami").status_code == 200

    hub.users.disable("alice")  # in app_account, telling authhub nothing

    answer = client.get(f"{base}/whoami")
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert "inactive or deleted" in answer.headers["WWW-Authenticate"]
    with pytest.raises(OAuthError) as caught:
        client.refresh_token(f"{base}/oauth/token")
    assert caught.value.error == "invalid_grant"


def test_disabled_user_cannot_finish_a_code_flow(
    hub: AuthHub, base: str, browser: Browser, webapp: tuple[str, str], alice: Any
) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = generate_token(64)
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    location = browser.authorize(url).headers["Location"]
    hub.users.disable("alice")

    with pytest.raises(OAuthError) as caught:
        client.fetch_token(f"{base}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert caught.value.error == "invalid_grant"


def test_revoking_an_application_users_tokens(hub: AuthHub, base: str, alice: Any) -> None:
    bearer = hub.auth_headers("oauth", alice)
    assert requests.get(f"{base}/whoami", headers=bearer, timeout=10).json()["user"] == "alice"

    assert revoke_tokens(hub, user_id=alice.id) == 1
    answer = requests.get(f"{base}/whoami", headers=bearer, timeout=10)
    assert answer.status_code == 401
    assert "was revoked" in answer.headers["WWW-Authenticate"]
