"""authhub as the issuer, another authhub as the resource server configured by the issuer's URL alone.

The issuer is a real ``authhub serve`` process (JWT access tokens, keys in
its store, ``/.well-known/openid-configuration`` and ``/oauth/jwks``); the
resource server finds its keys by discovery, accepts a DPoP-bound JWT only
with a proof of the key in its ``cnf.jkt``, and picks up a rotated key
(``authhub oauth keys rotate``) without a restart.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.client import DEFAULT_HEADERS

from authhub import AuthHub

from .dpop_proofs import make_proof, new_key, thumbprint

API = "https://api.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Issuer:
    """``authhub serve`` with the oauth scheme, issuing JWT access tokens, on a port known in advance."""

    def __init__(self, directory: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.environ = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
        self.environ.update({
            "AUTHHUB_DATABASE_URL": f"sqlite:///{directory / 'issuer.db'}", "AUTHHUB_SCHEMES": "oauth",
            "AUTHHUB_OAUTH_ISSUER": self.url, "AUTHHUB_OAUTH_ACCESS_TOKEN_FORMAT": "jwt",
        })
        self.directory = directory
        self.process: subprocess.Popen[str] | None = None

    def command(self, *arguments: str) -> str:
        done = subprocess.run([sys.executable, "-m", "authhub", *arguments], env=self.environ, cwd=self.directory,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen([sys.executable, "-m", "authhub", "serve", "--port", port, "--access-log",
                                         "off"], env=self.environ, cwd=self.directory, stderr=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, text=True)
        assert self.process.stderr is not None
        announced = self.process.stderr.readline()
        assert re.search(r"serving http://127\.0\.0\.1:\d+", announced), announced + self.process.stderr.read()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.communicate(timeout=20)


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    issuer = Issuer(tmp_path)
    issuer.start()
    yield issuer
    issuer.stop()


def claims_of(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                       for part in token.split(".")[:2])
    return header, payload


def test_a_dpop_bound_jwt_of_authhub_serve_checked_by_discovery(
    issuer: Issuer, authhub_make_hub: Callable[..., AuthHub], authhub_live_server: Callable[[AuthHub], str]
) -> None:
    created = json.loads(issuer.command("oauth", "clients", "create", "--name", "svc", "--grant-type",
                                        "client_credentials", "--scope", "read", "--json"))
    client = OAuth2Session(created["client_id"], created["client_secret"], scope="read")
    key = new_key()

    def fetch() -> str:
        token = client.fetch_token(f"{issuer.url}/oauth/token", grant_type="client_credentials", headers={
            **DEFAULT_HEADERS, "DPoP": make_proof(key, "POST", f"{issuer.url}/oauth/token")})
        assert token["token_type"] == "DPoP"
        access_token: str = token["access_token"]
        return access_token

    token = fetch()
    header, claims = claims_of(token)
    assert header["typ"] == "at+jwt"
    assert claims["cnf"] == {"jkt": thumbprint(key.as_dict(private=False))}

    api = authhub_make_hub(schemes=["oauth"], oauth={
        "token_source": "jwt", "jwt_issuer": issuer.url, "jwt_audience": claims["aud"], "resource_url": API,
        "jwks_min_refresh_seconds": 0.5,
    })
    base = authhub_live_server(api)

    def call(access_token: str, scheme: str = "DPoP") -> requests.Response:
        headers = {"Authorization": f"{scheme} {access_token}"}
        if scheme == "DPoP":
            headers["DPoP"] = make_proof(key, "GET", f"{API}/whoami", token=access_token)
        return requests.get(f"{base}/whoami", headers=headers, timeout=10)

    answer = call(token)
    assert answer.json() == {"authenticated": True, "user": f"client:{created['client_id']}", "scheme": "oauth"}
    bearer = call(token, "Bearer")
    assert bearer.status_code == 401
    assert bearer.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')

    # A new signing key at the issuer: its tokens are accepted within seconds, no restart.
    issuer.command("oauth", "keys", "rotate")
    rotated = fetch()
    assert claims_of(rotated)[0]["kid"] != header["kid"]
    started = time.monotonic()
    while (answer := call(rotated)).status_code != 200:
        assert answer.status_code == 401 and time.monotonic() - started < 5, answer.text
        time.sleep(0.1)
    assert answer.json()["user"] == f"client:{created['client_id']}"
    assert call(token).status_code == 200  # the old key stays published while its tokens live
