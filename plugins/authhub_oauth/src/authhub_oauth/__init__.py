"""authhub-oauth: OAuth 2.0 bearer tokens, as a resource server and an authorization server.

The ``oauth`` scheme reads ``Authorization: Bearer <token>`` (RFC 6750) and
checks the token where the ``token_source`` setting says: tokens this
server issued (stored as digests), JWT access tokens of an external issuer
(RFC 9068), or a remote introspection endpoint (RFC 7662). ``request.auth``
is then an :class:`AccessToken`.

``authhub serve`` gains the authorization server's endpoints (token,
authorize with a consent page, revoke, introspect, metadata), all built on
Authlib; ``authhub oauth`` manages clients and tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

import authhub
from authhub import AuthhubError, Request, Setting
from authhub_oauth import resource, routes
from authhub_oauth.errors import InsufficientScope, InvalidBearerRequest, InvalidToken
from authhub_oauth.identity import AccessToken, ClientPrincipal
from authhub_oauth.resource import require_scopes, scopes_required
from authhub_oauth.settings import SETTINGS

if TYPE_CHECKING:
    import click

    from authhub import AuthHub
    from authhub.server import Route

__all__ = [
    "AccessToken",
    "ClientPrincipal",
    "InsufficientScope",
    "InvalidBearerRequest",
    "InvalidToken",
    "require_scopes",
    "scopes_required",
]

log = logging.getLogger("authhub.oauth")

#: The client that ``auth_headers`` issues test tokens through.
TEST_CLIENT_ID = "authhub-test-client"


@authhub.hookimpl
def scheme_settings() -> dict[str, Setting]:
    return SETTINGS


@authhub.hookimpl
def authenticate(request: Request, settings: Mapping[str, Any], hub: AuthHub) -> tuple[Any, AccessToken] | None:
    return resource.resource_for(hub, settings).authenticate(request)


@authhub.hookimpl
def challenge(request: Request, settings: Mapping[str, Any], error: AuthhubError | None) -> str:
    return resource.challenge(settings["realm"], error)


@authhub.hookimpl
def migration_directory() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@authhub.hookimpl
def serve_routes(hub: AuthHub) -> list[Route]:
    return routes.routes(hub)


@authhub.hookimpl
def register_commands(cli: click.Group) -> None:
    from authhub_oauth.cli import oauth_group

    cli.add_command(oauth_group)


@authhub.hookimpl
def user_changed(hub: AuthHub, username: str) -> None:
    """A new password or a deactivation revokes every token issued for the user."""
    from authhub_oauth.clients import revoke_tokens

    find = getattr(hub.users, "get_by_username", None)
    user = find(username) if find is not None else None
    if user is None:
        return
    try:
        revoke_tokens(hub, user_id=user.id)
    except authhub.StoreUnavailable:
        # The change itself is done; tokens of an inactive user are refused anyway.
        log.error("could not revoke the tokens of a changed user: store unavailable")


@authhub.hookimpl
def auth_headers(hub: AuthHub, user: Any) -> dict[str, str]:
    """An opaque access token for ``user``, issued through a test client made on first use."""
    from authhub_oauth.clients import issue_token
    from authhub_oauth.models import OAuthClient

    with hub.store.session() as session:
        if session.scalar(sa.select(OAuthClient.id).where(OAuthClient.client_id == TEST_CLIENT_ID)) is None:
            session.add(OAuthClient(client_id=TEST_CLIENT_ID, client_secret_digest=None, name="authhub tests",
                                    grant_types="", redirect_uris="", scope=""))
    return {"Authorization": f"Bearer {issue_token(hub, TEST_CLIENT_ID, user)}"}
