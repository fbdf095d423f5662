"""JWT access tokens (RFC 9068) from an external issuer, checked against a JWKS file or URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

import authhub
from authhub import AuthHub, Request, Response, Route
from authhub_oauth import AccessToken, ClientPrincipal, InvalidToken, OAuthScheme
from authhub_oauth.validators import JWTTokenValidator

from .conftest import PASSWORD

ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"


@pytest.fixture
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": "key-1"}, private=True)


@pytest.fixture
def jwks_file(tmp_path: Path, signing_key: RSAKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(KeySet([signing_key]).as_dict(private=False)))
    return path


@pytest.fixture
def hub(authhub_make_hub: Callable[..., AuthHub], jwks_file: Path) -> AuthHub:
    hub = authhub_make_hub(schemes=["oauth"], oauth={
        "token_source": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwks": str(jwks_file),
    })
    hub.users.create("alice", PASSWORD)
    return hub


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "mobile-app", "iat": now,
              "exp": now + 300, "jti": "id-1", "scope": "read write"}
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def sign(key: Any, alg: str = "RS256", **changes: Any) -> str:
    header = {"alg": alg, "typ": "at+jwt"}
    if key.kid:
        header["kid"] = key.kid
    return jwt.encode(header, claims(**changes), key, algorithms=[alg])


def authenticate(hub: AuthHub, token: str) -> Any:
    request = Request("GET", "/", [("Authorization", f"Bearer {token}")], hub=hub)
    return request.identity


def refusal(hub: AuthHub, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        authenticate(hub, token)
    return caught.value.detail


def test_valid_jwt_gives_the_user_and_scopes(hub: AuthHub, signing_key: RSAKey) -> None:
    identity = authenticate(hub, sign(signing_key))

    assert identity.scheme == "oauth"
    assert identity.user.username == "alice"
    assert isinstance(identity.auth, AccessToken)
    assert identity.auth.scopes == {"read", "write"}
    assert identity.auth.client_id == "mobile-app"
    assert identity.auth.source == "jwt"


def test_client_token_gives_the_client(hub: AuthHub, signing_key: RSAKey) -> None:
    identity = authenticate(hub, sign(signing_key, sub="mobile-app"))

    assert identity.user == ClientPrincipal("mobile-app")
    assert identity.auth.user is None


def test_wrong_audience(hub: AuthHub, signing_key: RSAKey) -> None:
    refused = refusal(hub, sign(signing_key, aud="https://other-api.example"))
    assert refused == "The access token's 'aud' claim is not accepted."


def test_wrong_issuer(hub: AuthHub, signing_key: RSAKey) -> None:
    refused = refusal(hub, sign(signing_key, iss="https://evil.example"))
    assert refused == "The access token's 'iss' claim is not accepted."


def test_expired_jwt(hub: AuthHub, signing_key: RSAKey) -> None:
    assert refusal(hub, sign(signing_key, exp=int(time.time()) - 10, iat=int(time.time()) - 400)) == (
        "The access token expired."
    )


def test_missing_required_claim(hub: AuthHub, signing_key: RSAKey) -> None:
    assert "'jti'" in refusal(hub, sign(signing_key, jti=None))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(hub: AuthHub) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims())}."
    assert refusal(hub, token) == "The access token's signature algorithm is not accepted."


def test_hmac_signed_with_the_public_key_is_refused(hub: AuthHub, signing_key: RSAKey) -> None:
    # The classic confusion attack: HMAC keyed with the issuer's public key, which anyone has.
    public_pem = signing_key.as_pem(private=False)
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'key-1', 'typ': 'at+jwt'})}.{_b64(claims())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert refusal(hub, token) == "The access token's signature algorithm is not accepted."


def test_key_not_in_the_jwks_is_refused(hub: AuthHub) -> None:
    stranger = RSAKey.generate_key(2048, {"kid": "key-2"}, private=True)
    assert refusal(hub, sign(stranger)) == "The access token was signed with an unknown key."


def test_same_kid_other_key_is_a_bad_signature(hub: AuthHub) -> None:
    impostor = RSAKey.generate_key(2048, {"kid": "key-1"}, private=True)
    assert refusal(hub, sign(impostor)) == "The access token's signature is invalid."


def test_unknown_kid_rereads_the_jwks(hub: AuthHub, jwks_file: Path, signing_key: RSAKey) -> None:
    assert authenticate(hub, sign(signing_key)).is_authenticated  # first load
    rotated = RSAKey.generate_key(2048, {"kid": "key-2"}, private=True)
    jwks_file.write_text(json.dumps(KeySet([signing_key, rotated]).as_dict(private=False)))
    validator = hub.find_scheme(OAuthScheme).resource.validator
    assert isinstance(validator, JWTTokenValidator)
    validator.keys.min_refresh = 0

    assert authenticate(hub, sign(rotated)).user.username == "alice"


def test_unknown_subject_is_refused(hub: AuthHub, signing_key: RSAKey) -> None:
    assert refusal(hub, sign(signing_key, sub="mallory")) == "The token's subject is not a user of this service."


def test_not_a_jwt(hub: AuthHub) -> None:
    assert refusal(hub, "abc.def") == "The access token is not a valid JWT."


def test_hmac_in_the_allow_list_is_a_configuration_error(
    authhub_make_hub: Callable[..., AuthHub], jwks_file: Path
) -> None:
    with pytest.raises(authhub.ConfigurationError, match="HS256"):
        authhub_make_hub(schemes=["oauth"], oauth={
            "token_source": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwks": str(jwks_file),
            "jwt_algorithms": ["RS256", "HS256"],
        })


class JWKSRoute:
    """Serves a JWKS document, as an issuer would."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    @authhub.hookimpl
    def serve_routes(self, hub: AuthHub) -> list[Route]:
        return [Route("/jwks.json", lambda request: Response.json(self.document))]


def test_jwks_from_a_url_over_http(
    authhub_make_hub: Callable[..., AuthHub], authhub_live_server: Callable[[AuthHub], str], signing_key: RSAKey
) -> None:
    issuer = authhub_make_hub(schemes=[], plugins={"issuer": JWKSRoute(KeySet([signing_key]).as_dict(private=False))})
    jwks_url = f"{authhub_live_server(issuer)}/jwks.json"
    api = authhub_make_hub(schemes=["oauth"], oauth={
        "token_source": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwks": jwks_url,
    })
    api.users.create("alice", PASSWORD)
    base = authhub_live_server(api)

    good = requests.get(f"{base}/whoami", headers={"Authorization": f"Bearer {sign(signing_key)}"}, timeout=10)
    assert good.json() == {"authenticated": True, "user": "alice", "scheme": "oauth"}
    bad = requests.get(f"{base}/whoami", timeout=10,
                       headers={"Authorization": f"Bearer {sign(signing_key, aud='https://other.example')}"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == (
        'Bearer realm="authhub", error="invalid_token", '
        "error_description=\"The access token's 'aud' claim is not accepted.\""
    )


def test_jwks_over_plain_http_to_another_host_is_a_configuration_error(
    authhub_make_hub: Callable[..., AuthHub]
) -> None:
    with pytest.raises(authhub.ConfigurationError, match="must use https"):
        authhub_make_hub(schemes=["oauth"], oauth={
            "token_source": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
            "jwks": "http://issuer.example/jwks.json",
        })
