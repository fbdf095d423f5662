"""The per-hub ``OAuthScheme``: what it tells the hub, what it announces, and that it goes away with its hub."""

from __future__ import annotations

import base64
import gc
import json
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

import authhub
import authhub_oauth
from authhub import AuthHub, Request
from authhub.testing import hub_for_tests
from authhub_oauth import OAuthScheme
from authhub_oauth.clients import create_client, delete_client, revoke_tokens
from authhub_oauth.models import digest
from authhub_oauth.validators import IntrospectionValidator, JWTTokenValidator

from .conftest import PASSWORD, REDIRECT_URI, Browser


class Recorder:
    """Another plugin of the hub: every invalidation it is told about."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @authhub.hookimpl
    def invalidated(self, kind: str, key: str) -> None:
        self.seen.append((kind, key))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def hub(authhub_make_hub: Callable[..., AuthHub], recorder: Recorder) -> AuthHub:
    return authhub_make_hub(schemes=["oauth", "session"], plugins={"recorder": recorder})


def test_the_hub_knows_the_scheme(hub: AuthHub) -> None:
    scheme = hub.find_scheme(OAuthScheme)

    assert hub.scheme_object("oauth") is scheme
    assert scheme.name == "oauth"
    assert OAuthScheme.position == 200
    described = hub.openapi("oauth")
    assert described is not None and described["type"] == "oauth2"
    assert described["flows"]["authorizationCode"]["authorizationUrl"] == "/oauth/authorize"
    assert described["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
    assert authhub_oauth.__version__ == "0.2.0"


def test_default_chain_puts_oauth_after_token_and_before_basic_and_session(
    authhub_make_hub: Callable[..., AuthHub],
) -> None:
    schemes = [name for name in authhub_make_hub().schemes if name in ("token", "oauth", "basic", "session")]
    assert schemes.index("oauth") == (1 if "token" in schemes else 0)


def test_two_hubs_keep_their_own_schemes(authhub_make_hub: Callable[..., AuthHub], tmp_path: Path) -> None:
    first = authhub_make_hub(schemes=["oauth"])
    second = authhub_make_hub(schemes=["oauth"], oauth={"realm": "other"},
                              database_url=f"sqlite:///{tmp_path / 'other.db'}")
    user = first.users.create("alice", PASSWORD)
    bearer = first.auth_headers("oauth", user)

    assert first.find_scheme(OAuthScheme) is not second.find_scheme(OAuthScheme)
    assert Request("GET", "/", list(bearer.items()), hub=first).user == user
    with pytest.raises(authhub.AuthenticationFailed):
        Request("GET", "/", list(bearer.items()), hub=second).identity
    assert second.challenges(Request("GET", "/", hub=second), None) == ['Bearer realm="other"']


def test_a_bad_setting_stops_the_hub(authhub_make_hub: Callable[..., AuthHub]) -> None:
    with pytest.raises(authhub.ConfigurationError, match="oauth.token_source"):
        authhub_make_hub(schemes=["oauth"], oauth={"token_source": "guess"})


def test_public_functions_need_the_plugin_in_the_hub(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=[], environ={"AUTHHUB_BLOCK_PLUGINS": "oauth"})
    with pytest.raises(authhub.ConfigurationError, match="OAuthScheme"):
        create_client(hub, name="x", grant_types=["client_credentials"])


# -- invalidation ---------------------------------------------------------------------------


def test_revocation_and_client_deletion_are_announced(hub: AuthHub, recorder: Recorder, service: Any) -> None:
    user = hub.users.create("bob", PASSWORD)
    token = hub.auth_headers("oauth", user)["Authorization"].split()[1]

    assert revoke_tokens(hub, token=token) == 1
    assert recorder.seen == [("oauth-token", digest(token))]

    delete_client(hub, service[0])
    assert recorder.seen[-1] == ("oauth-client", service[0])


def test_a_password_change_revokes_and_announces(hub: AuthHub, recorder: Recorder) -> None:
    user = hub.users.create("carol", PASSWORD)
    token = hub.auth_headers("oauth", user)["Authorization"].split()[1]

    hub.users.set_password("carol", "another passphrase")

    assert ("oauth-token", digest(token)) in recorder.seen
    assert ("user", str(user.id)) in recorder.seen


def test_refresh_reuse_announces_the_whole_family(
    hub: AuthHub, recorder: Recorder, base: str, browser: Browser, webapp: tuple[str, str], alice: Any
) -> None:
    client = OAuth2Session(*webapp, scope="read", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = generate_token(64)
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    first = client.fetch_token(f"{base}/oauth/token", authorization_response=browser.authorize(url).headers["Location"],
                               code_verifier=verifier)
    second = client.refresh_token(f"{base}/oauth/token")
    assert recorder.seen == []

    with pytest.raises(OAuthError):
        OAuth2Session(*webapp).refresh_token(f"{base}/oauth/token", refresh_token=first["refresh_token"])

    announced = {key for kind, key in recorder.seen if kind == "oauth-token"}
    assert digest(second["access_token"]) in announced  # the live one; the first was already used up
    assert client.get(f"{base}/whoami").status_code == 401


# -- a hub and its scheme go away together -------------------------------------------------


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _used_and_dropped(directory: Path, **settings: Any) -> weakref.ref[AuthHub]:
    hub = hub_for_tests(directory, schemes=["oauth"], **settings)
    hub.upgrade()
    client, secret = create_client(hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    assert secret is not None
    token_route = next(route for _, route in hub.routes() if route.path == "/oauth/token")
    issued = token_route.handler(Request(
        "POST", "/oauth/token", [("Authorization", _basic(client.client_id, secret)),
                                 ("Content-Type", "application/x-www-form-urlencoded")],
        body=b"grant_type=client_credentials", hub=hub,
    ))
    assert issued.status == 200
    access_token = json.loads(issued.body)["access_token"]
    request = Request("GET", "/", [("Authorization", f"Bearer {access_token}")], hub=hub)
    try:
        request.identity
    except authhub.AuthhubError:
        pass  # another token source refuses it: the point is that it was asked
    hub.close()
    return weakref.ref(hub)


@pytest.mark.parametrize("source", ["opaque", "jwt", "introspection"])
def test_a_closed_and_dropped_hub_is_collected(tmp_path: Path, source: str) -> None:
    settings: dict[str, Any] = {}
    if source == "jwt":
        from joserfc.jwk import KeySet, RSAKey

        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps(KeySet([RSAKey.generate_key(2048, private=True)]).as_dict(private=False)))
        settings = {"token_source": "jwt", "jwt_issuer": "https://issuer.example",
                    "jwt_audience": "https://api.example", "jwks": str(jwks)}
    elif source == "introspection":
        settings = {"token_source": "introspection", "introspection_url": "http://127.0.0.1:9/introspect",
                    "introspection_client_id": "api", "introspection_client_secret": "secret"}
    dead = _used_and_dropped(tmp_path, oauth=settings)
    gc.collect()
    assert dead() is None


def test_close_closes_the_http_clients(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=["oauth"], oauth={
        "token_source": "introspection", "introspection_url": "http://127.0.0.1:9/introspect",
        "introspection_client_id": "api", "introspection_client_secret": "secret"})
    validator = hub.find_scheme(OAuthScheme).resource.validator
    assert isinstance(validator, IntrospectionValidator)

    hub.close()
    assert validator.http.is_closed


def test_a_jwks_file_needs_no_http_client(authhub_make_hub: Callable[..., AuthHub], tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text('{"keys": []}')
    hub = authhub_make_hub(schemes=["oauth"], oauth={
        "token_source": "jwt", "jwt_issuer": "https://issuer.example", "jwt_audience": "https://api.example",
        "jwks": str(tmp_path / "jwks.json")})
    validator = hub.find_scheme(OAuthScheme).resource.validator
    assert isinstance(validator, JWTTokenValidator)
    assert validator.http is None
