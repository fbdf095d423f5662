"""Registering clients and revoking tokens: what the CLI and applications call.

Each function takes the hub and works through its :class:`~authhub_oauth.OAuthScheme`
(``hub.find_scheme``), so it refuses a hub without the oauth plugin.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import sqlalchemy as sa
from authlib.common.security import generate_token, is_secure_transport

from authhub import AuthHub, BadRequest
from authhub_oauth.models import GRANT_TYPES, OAuthClient, OAuthToken, digest, utcnow
from authhub_oauth.scheme import OAuthScheme
from authhub_oauth.server import OAuthServer

#: RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_CHARS = frozenset(chr(code) for code in range(0x21, 0x7F)) - {'"', "\\"}


class ClientError(BadRequest, ValueError):
    """A client registration or token request that cannot be done; the message says why.

    An :class:`authhub.AuthhubError`, so ``authhub oauth ...`` shows it as a one-line error.
    """


@attrs.frozen
class ClientInfo:
    """A registered client as the CLI shows it (never its secret)."""

    client_id: str
    name: str
    is_public: bool
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    may_introspect: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, row: OAuthClient) -> ClientInfo:
        return cls(row.client_id, row.name, row.is_public, tuple(row.grant_types.split()),
                   tuple(row.redirect_uris.split()), tuple(row.scope.split()), bool(row.may_introspect),
                   row.created_at)

    def as_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id, "name": self.name, "public": self.is_public,
            "grant_types": list(self.grant_types), "redirect_uris": list(self.redirect_uris),
            "scopes": list(self.scopes), "may_introspect": self.may_introspect,
        }


def create_client(
    hub: AuthHub,
    *,
    name: str,
    grant_types: Sequence[str],
    redirect_uris: Sequence[str] = (),
    scopes: Iterable[str] = (),
    public: bool = False,
    may_introspect: bool = False,
) -> tuple[ClientInfo, str | None]:
    """Register a client; return it and its secret (``None`` for a public client).

    The secret is shown this once: only its digest is stored.
    """
    _server(hub)  # refuses a hub without the oauth plugin
    name = name.strip()
    if not name or len(name) > 200:
        raise ClientError("a client name must be 1 to 200 characters")
    grants = list(dict.fromkeys(grant_types))
    if not grants:
        raise ClientError("give at least one --grant-type")
    unknown = [grant for grant in grants if grant not in GRANT_TYPES]
    if unknown:
        raise ClientError(f"unknown grant type {unknown[0]!r}; known: {', '.join(GRANT_TYPES)}")
    if public and "client_credentials" in grants:
        raise ClientError("a public client cannot use client_credentials: it has no secret")
    if "refresh_token" in grants and "authorization_code" not in grants:
        raise ClientError("refresh_token needs authorization_code: only that grant issues refresh tokens")
    uris = list(dict.fromkeys(redirect_uris))
    if "authorization_code" in grants and not uris:
        raise ClientError("authorization_code needs at least one --redirect-uri")
    for uri in uris:
        _check_redirect_uri(uri)
    scope_list = list(dict.fromkeys(scope for text in scopes for scope in text.split()))
    for scope in scope_list:
        if not set(scope) <= _SCOPE_CHARS:
            raise ClientError(f"scope {scope!r} has characters RFC 6749 §3.3 does not allow")
    secret = None if public else secrets.token_urlsafe(32)
    row = OAuthClient(
        client_id=generate_token(22),  # letters and digits: never mistaken for a command-line option
        client_secret_digest=digest(secret) if secret is not None else None,
        name=name,
        grant_types=" ".join(grants),
        redirect_uris=" ".join(uris),
        scope=" ".join(scope_list),
        may_introspect=may_introspect,
        created_at=utcnow(),
    )
    with hub.store.session() as session:
        session.add(row)
    return ClientInfo.of(row), secret


def _server(hub: AuthHub) -> OAuthServer:
    """The hub's authorization server (:class:`authhub.ConfigurationError` when oauth is not installed)."""
    return hub.find_scheme(OAuthScheme).server


def _check_redirect_uri(uri: str) -> None:
    """Absolute, no fragment (RFC 6749 §3.1.2); plain http only to this machine (RFC 8252 §7.3)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise ClientError(f"redirect URI {uri!r} is not a URL") from None
    if not parts.scheme or (parts.scheme in ("http", "https") and not parts.netloc):
        raise ClientError(f"redirect URI {uri!r} must be absolute")
    if parts.fragment or "#" in uri:
        raise ClientError(f"redirect URI {uri!r} must not have a fragment")
    if any(char.isspace() for char in uri):
        raise ClientError(f"redirect URI {uri!r} must not contain spaces")
    if parts.scheme == "http" and not is_secure_transport(uri):
        raise ClientError(f"redirect URI {uri!r}: plain http is allowed only for localhost; use https")


def list_clients(hub: AuthHub) -> list[ClientInfo]:
    _server(hub)
    with hub.store.session() as session:
        rows = session.scalars(sa.select(OAuthClient).order_by(OAuthClient.id)).all()
        return [ClientInfo.of(row) for row in rows]


def delete_client(hub: AuthHub, client_id: str) -> None:
    """Delete a client with its codes and tokens; announced as ``("oauth-client", client_id)``."""
    if not _server(hub).delete_client(client_id):
        raise ClientError(f"no client with id {client_id!r}")


def revoke_tokens(
    hub: AuthHub, *, client_id: str | None = None, user_id: Any = None, token: str | None = None
) -> int:
    """Revoke every token matching all the given criteria; return how many were live.

    ``user_id`` is the user store's id of the user (or its ``str()``). Each
    revoked token is announced as ``("oauth-token", <its digest>)``.
    """
    server = _server(hub)
    where: list[Any] = []
    if client_id is not None:
        where.append(OAuthToken.client_id == client_id)
    if user_id is not None:
        where.append(OAuthToken.user_id == str(user_id))
    if token is not None:
        token_digest = digest(token)
        where.append(sa.or_(OAuthToken.access_token_digest == token_digest,
                            OAuthToken.refresh_token_digest == token_digest))
    if not where:
        raise ClientError("say which tokens to revoke: --client, --user or --token-stdin")
    return server.revoke_tokens(*where)


def issue_token(hub: AuthHub, client_id: str, user: Any, scopes: Iterable[str] = ()) -> str:
    """Issue an access token for ``user`` (``None``: the client itself) through ``client_id`` directly."""
    return _server(hub).issue_token(client_id, user, scopes)
