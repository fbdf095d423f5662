"""Only access tokens authenticate, and no claim a token or an introspection answer carries gives a 500.

Issue 14: a refresh token authenticated at a resource server with
``token_source = "introspection"``; a validly signed JWT with
``exp = 1e20`` was an ``OverflowError`` (500).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from authhub import AuthHub, Request
from authhub_oauth import InvalidToken
from authhub_oauth.clients import create_client
from authhub_oauth.models import OAuthToken, digest, utcnow

from .conftest import PASSWORD
from .provider_fixtures import issuer, issuer_base

__all__ = ["issuer", "issuer_base"]  # fixtures, used by name

ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"


def identity(hub: AuthHub, token: str) -> Any:
    return Request("GET", "/", [("Authorization", f"Bearer {token}")], hub=hub).identity


def refusal(hub: AuthHub, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        identity(hub, token)
    return caught.value.detail


# -- introspection: the issuer is a real `authhub serve` ------------------------------


def introspecting_hub(make: Callable[..., AuthHub], url: str, credentials: tuple[str, str]) -> AuthHub:
    return make(schemes=["oauth"], oauth={
        "token_source": "introspection", "introspection_url": url,
        "introspection_client_id": credentials[0], "introspection_client_secret": credentials[1],
        "introspection_cache_seconds": 0,
    })


def issue_pair(issuer: AuthHub) -> tuple[str, str, str]:
    """A live access token and its refresh token, as the code flow stores them; and the client id."""
    client, _ = create_client(issuer, name="Web app", grant_types=["authorization_code", "refresh_token"],
                              redirect_uris=["http://127.0.0.1:9/cb"])
    access, refresh, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), utcnow()
    with issuer.store.session() as session:
        session.add(OAuthToken(
            access_token_digest=digest(access), refresh_token_digest=digest(refresh), client_id=client.client_id,
            scope="", family_id=secrets.token_hex(16), issued_at=now, expires_at=now + dt.timedelta(hours=1),
            refresh_expires_at=now + dt.timedelta(days=1),
        ))
    return access, refresh, client.client_id


def test_a_refresh_token_never_authenticates_through_introspection(
    authhub_make_hub: Callable[..., AuthHub], issuer: AuthHub, issuer_base: str
) -> None:
    api, api_secret = create_client(issuer, name="API", grant_types=["client_credentials"], may_introspect=True)
    assert api_secret is not None
    api_client = api.client_id
    access, refresh, _ = issue_pair(issuer)
    url = f"{issuer_base}/oauth/introspect"

    # The issuer says what each token is, whatever the hint (RFC 7662 §2.2).
    for hint in ("access_token", "refresh_token", None):
        data = {"token": refresh, **({"token_type_hint": hint} if hint else {})}
        answer = requests.post(url, data=data, auth=(api_client, api_secret), timeout=10).json()
        assert answer["active"] is True and answer["token_type"] == "refresh_token"
    answer = requests.post(url, data={"token": access, "token_type_hint": "refresh_token"},
                           auth=(api_client, api_secret), timeout=10).json()
    assert answer["token_type"] == "Bearer"

    resource = introspecting_hub(authhub_make_hub, url, (api_client, api_secret))
    assert identity(resource, access).scheme == "oauth"
    assert refusal(resource, refresh) == "The token is not an access token."


def test_a_refresh_token_is_no_access_token_here_either(
    issuer: AuthHub, issuer_base: str
) -> None:
    access, refresh, _ = issue_pair(issuer)
    assert requests.get(f"{issuer_base}/protected", headers={"Authorization": f"Bearer {access}"},
                        timeout=10).status_code == 200
    assert requests.get(f"{issuer_base}/protected", headers={"Authorization": f"Bearer {refresh}"},
                        timeout=10).status_code == 401


class Answers:
    """A real HTTP introspection endpoint that answers whatever the test puts in ``answer``."""

    def __init__(self) -> None:
        self.answer: Any = {"active": False}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps(owner.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/introspect"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def answers() -> Iterator[Answers]:
    endpoint = Answers()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", [1e20, 10**30, -1e20, "soon", [1], float("inf"), float("nan")])
def test_odd_times_in_an_introspection_answer_are_invalid_token(
    authhub_make_hub: Callable[..., AuthHub], answers: Answers, claim: str, value: Any
) -> None:
    api = introspecting_hub(authhub_make_hub, answers.url, ("api", "secret"))
    answers.answer = {"active": True, "token_type": "Bearer", "client_id": "c", "scope": "",
                      "exp": int(time.time()) + 60, claim: value}
    assert f"'{claim}'" in refusal(api, "some-token")


@pytest.mark.parametrize("token_type", [None, "refresh_token", "Refresh", "id_token", 1])
def test_an_answer_that_does_not_say_access_token_is_refused(
    authhub_make_hub: Callable[..., AuthHub], answers: Answers, token_type: Any
) -> None:
    api = introspecting_hub(authhub_make_hub, answers.url, ("api", "secret"))
    answers.answer = {"active": True, "client_id": "c", "exp": int(time.time()) + 60}
    if token_type is not None:
        answers.answer["token_type"] = token_type
    assert refusal(api, "some-token") == "The token is not an access token."
    answers.answer["token_type"] = "bearer"
    assert identity(api, "some-token").scheme == "oauth"


# -- JWT access tokens ------------------------------------------------------------


@pytest.fixture
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": "key-1"}, private=True)


@pytest.fixture
def jwt_hub(authhub_make_hub: Callable[..., AuthHub], tmp_path: Path, signing_key: RSAKey) -> AuthHub:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(KeySet([signing_key]).as_dict(private=False)))
    hub = authhub_make_hub(schemes=["oauth"], oauth={
        "token_source": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwks": str(jwks),
    })
    hub.users.create("alice", PASSWORD)
    return hub


def sign(key: RSAKey, typ: str | None = "at+jwt", **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "app", "iat": now, "exp": now + 300,
              "jti": "id-1", **changes}
    header = {"alg": "RS256", "kid": key.kid, **({"typ": typ} if typ else {})}
    return jwt.encode(header, claims, key, algorithms=["RS256"])


@pytest.mark.parametrize("exp", [1e20, 10**30, 253402300800])
def test_a_validly_signed_jwt_with_a_far_exp_is_invalid_token(jwt_hub: AuthHub, signing_key: RSAKey,
                                                              exp: Any) -> None:
    assert refusal(jwt_hub, sign(signing_key, exp=exp)) == "The access token's 'exp' claim is missing or invalid."


def test_a_far_exp_jwt_is_401_over_http(jwt_hub: AuthHub, signing_key: RSAKey,
                                        authhub_live_server: Callable[[AuthHub], str]) -> None:
    base = authhub_live_server(jwt_hub)
    answer = requests.get(f"{base}/protected", headers={"Authorization": f"Bearer {sign(signing_key, exp=1e20)}"},
                          timeout=10)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


@pytest.mark.parametrize("typ", [None, "JWT", "refresh+jwt"])
def test_a_jwt_that_is_not_an_access_token_is_refused(jwt_hub: AuthHub, signing_key: RSAKey,
                                                      typ: str | None) -> None:
    # RFC 9068 §4: an ID token or any other JWT of the same issuer is not an access token.
    assert refusal(jwt_hub, sign(signing_key, typ=typ)) == (
        "The token is not a JWT access token: its 'typ' must be 'at+jwt'."
    )
    assert identity(jwt_hub, sign(signing_key, typ="application/at+jwt")).user.username == "alice"


def test_client_credentials_tokens_still_work(issuer: AuthHub, issuer_base: str) -> None:
    client, secret = create_client(issuer, name="Job", grant_types=["client_credentials"])
    token = OAuth2Session(client.client_id, secret).fetch_token(f"{issuer_base}/oauth/token",
                                                                 grant_type="client_credentials")
    assert requests.get(f"{issuer_base}/protected", headers={"Authorization": f"Bearer {token['access_token']}"},
                        timeout=10).status_code == 200
