"""Fixtures for tests that need an issuer: a hub served at its own issuer URL, ID token checks, and an issuer
that a resource server on another hub asks (token introspection).

A test module imports the fixtures it uses (``from .provider_fixtures import issuer_server``).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from authhub import AuthHub, AuthhubError
from authhub.testing import LiveServers

Served = tuple[AuthHub, str]


class IssuerServers(LiveServers):
    """Reference servers on a port chosen first, so that the hub's ``oauth.issuer`` is the server's own URL."""

    def start_at_issuer(self, make_hub: Callable[..., AuthHub], oauth: dict[str, Any], **settings: Any) -> Served:
        from authhub.server import create_server

        for _ in range(5):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            base = f"http://127.0.0.1:{port}"
            hub = make_hub(oauth={"issuer": base, **oauth}, **settings)
            try:
                server = create_server(hub, host="127.0.0.1", port=port, threads=4)
            except (OSError, AuthhubError):  # another process took the port meanwhile
                continue
            thread = threading.Thread(target=server.run, daemon=True)
            self.running.append((server, thread))
            thread.start()
            return hub, base
        raise RuntimeError("no free loopback port for the issuer")


@pytest.fixture
def issuer_server(authhub_make_hub: Callable[..., AuthHub]) -> Iterator[Callable[..., Served]]:
    """``hub, base = issuer_server(oauth={...}, **settings)``: oauth and session schemes, issuer == base."""
    servers = IssuerServers()

    def start(oauth: dict[str, Any] | None = None, make_hub: Callable[..., AuthHub] | None = None,
              **settings: Any) -> Served:
        settings.setdefault("schemes", ["oauth", "session"])
        return servers.start_at_issuer(make_hub or authhub_make_hub, oauth or {}, **settings)

    yield start
    servers.stop()


def published_keys(base: str) -> KeySet:
    answer = requests.get(f"{base}/oauth/jwks", timeout=10)
    assert answer.status_code == 200, answer.text
    return KeySet.import_key_set(answer.json())


def validated_id_token(base: str, token: dict[str, Any], client_id: str, nonce: str | None = None) -> CodeIDToken:
    """The token response's ID token, its signature checked with the JWKS and its claims with Authlib's CodeIDToken."""
    decoded = jwt.decode(token["id_token"], published_keys(base), algorithms=["RS256"])
    claims = CodeIDToken(decoded.claims, decoded.header,
                         options={"iss": {"essential": True, "value": base},
                                  "aud": {"essential": True, "value": client_id}},
                         params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]})
    claims.validate()
    return claims


@pytest.fixture
def issuer(authhub_make_hub: Callable[..., AuthHub], tmp_path_factory: pytest.TempPathFactory) -> AuthHub:
    """An issuer with a database of its own, apart from the resource server's hub."""
    directory = tmp_path_factory.mktemp("issuer")
    return authhub_make_hub(schemes=["oauth"], database_url=f"sqlite:///{directory / 'issuer.db'}")


@pytest.fixture
def issuer_base(issuer: AuthHub, authhub_live_server: Callable[[AuthHub], str]) -> str:
    """The URL of :func:`issuer`'s reference server."""
    return authhub_live_server(issuer)
