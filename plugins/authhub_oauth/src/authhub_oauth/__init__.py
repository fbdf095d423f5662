"""authhub-oauth: OAuth 2.0 bearer tokens, as a resource server and an authorization server.

The ``oauth`` scheme reads ``Authorization: Bearer <token>`` (RFC 6750) and
checks the token where the ``token_source`` setting says: tokens this
server issued (stored as digests), JWT access tokens of an external issuer
(RFC 9068), or a remote introspection endpoint (RFC 7662). ``request.auth``
is then an :class:`AccessToken`. A token bound to a key (DPoP, RFC 9449)
is accepted only as ``Authorization: DPoP <token>`` with a proof of that
key (:mod:`authhub_oauth.dpop`).

``authhub serve`` gains the authorization server's endpoints (token,
authorize with a consent page, revoke, introspect, metadata), all built on
Authlib; ``authhub oauth`` manages clients and tokens.

Each hub gets its own :class:`OAuthScheme` (``create_scheme``), which holds
everything the plugin keeps for that hub; the hooks here are the ones that
do not depend on a hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import authhub
from authhub import AuthHub, Setting
from authhub_oauth.errors import InsufficientScope, InvalidBearerRequest, InvalidToken
from authhub_oauth.identity import AccessToken, ClientPrincipal
from authhub_oauth.scheme import OAuthScheme
from authhub_oauth.scopes import require_scopes, scopes_required
from authhub_oauth.settings import SETTINGS

if TYPE_CHECKING:
    import click

try:
    __version__ = version("authhub-oauth")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "AccessToken",
    "ClientPrincipal",
    "InsufficientScope",
    "InvalidBearerRequest",
    "InvalidToken",
    "OAuthScheme",
    "__version__",
    "require_scopes",
    "scopes_required",
]


@authhub.hookimpl
def scheme_settings() -> dict[str, Setting]:
    return SETTINGS


@authhub.hookimpl
def create_scheme(hub: AuthHub, name: str, settings: Mapping[str, Any]) -> OAuthScheme:
    return OAuthScheme(hub, name, settings)


@authhub.hookimpl
def migration_directory() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@authhub.hookimpl
def register_commands(cli: click.Group) -> None:
    from authhub_oauth.cli import oauth_group

    cli.add_command(oauth_group)
