"""``authhub oauth clients create|list|delete`` and ``authhub oauth tokens revoke``.

Every command gets the configured hub from :func:`authhub.pass_hub`, which
also turns a :class:`~authhub_oauth.clients.ClientError` (an
:class:`authhub.AuthhubError`) into a one-line error and exit status 1.
"""

from __future__ import annotations

import json
import sys

import click

import authhub
from authhub import AuthHub
from authhub_oauth.clients import create_client, delete_client, list_clients, revoke_tokens
from authhub_oauth.models import GRANT_TYPES


@click.group("oauth")
def oauth_group() -> None:
    """OAuth 2.0 clients and tokens."""


@oauth_group.group("clients")
def clients_group() -> None:
    """Register, list and delete OAuth clients."""


@clients_group.command("create")
@click.option("--name", required=True, help="What the consent page calls the client.")
@click.option("--grant-type", "grant_types", multiple=True, type=click.Choice(GRANT_TYPES), required=True,
              help="A grant type the client may use (repeat for several).")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="An exact redirect URI (repeat for several).")
@click.option("--scope", "scopes", multiple=True, help="Scopes the client may ask for (repeat, or space-separated).")
@click.option("--public", is_flag=True, help="A public client (no secret; PKCE S256 is required).")
@click.option("--may-introspect", is_flag=True, help="May introspect any token (a resource server).")
@click.option("--json", "as_json", is_flag=True, help='Print {"client_id": ..., "client_secret": ...}.')
@authhub.pass_hub
def clients_create(hub: AuthHub, name: str, grant_types: tuple[str, ...], redirect_uris: tuple[str, ...],
                   scopes: tuple[str, ...], public: bool, may_introspect: bool, as_json: bool) -> None:
    """Register a client. Its secret is printed once and stored only as a digest."""
    client, secret = create_client(
        hub, name=name, grant_types=grant_types, redirect_uris=redirect_uris, scopes=scopes,
        public=public, may_introspect=may_introspect,
    )
    if as_json:
        click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))
        return
    click.echo(f"client_id:     {client.client_id}")
    if secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("Keep the secret now: it cannot be shown again.", err=True)
    else:
        click.echo("public client: no secret; use PKCE (S256).", err=True)


@clients_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@authhub.pass_hub
def clients_list(hub: AuthHub, as_json: bool) -> None:
    """List registered clients (never their secrets)."""
    clients = list_clients(hub)
    if as_json:
        click.echo(json.dumps([client.as_json() for client in clients], indent=2))
        return
    if not clients:
        click.echo("No clients.")
        return
    for client in clients:
        kind = "public" if client.is_public else "confidential"
        click.echo(f"{client.client_id}\t{client.name}\t{kind}\t{','.join(client.grant_types)}\t"
                   f"{' '.join(client.scopes) or '-'}\t{' '.join(client.redirect_uris) or '-'}")


@clients_group.command("delete")
@click.argument("client_id")
@authhub.pass_hub
def clients_delete(hub: AuthHub, client_id: str) -> None:
    """Delete client CLIENT_ID with all its codes and tokens."""
    delete_client(hub, client_id)
    click.echo(f"client {client_id!r} deleted")


@oauth_group.group("tokens")
def tokens_group() -> None:
    """Revoke issued tokens."""


@tokens_group.command("revoke")
@click.option("--client", "client_id", help="Revoke the tokens of this client.")
@click.option("--user", "username", help="Revoke the tokens issued for this user.")
@click.option("--token-stdin", is_flag=True, help="Revoke the one token read from the first line of stdin.")
@authhub.pass_hub
def tokens_revoke(hub: AuthHub, client_id: str | None, username: str | None, token_stdin: bool) -> None:
    """Revoke tokens matching every option given (at least one)."""
    user_id = None
    if username is not None:
        # Whatever store keeps the users: only its lookup by name is needed.
        user = hub.users.get_by_username(username)
        if user is None:
            raise click.ClickException(f"no user named {username!r}")
        user_id = str(user.id)
    token = sys.stdin.readline().strip() if token_stdin else None
    if token_stdin and not token:
        raise click.ClickException("no token on stdin")
    count = revoke_tokens(hub, client_id=client_id, user_id=user_id, token=token)
    click.echo(f"revoked {count} token(s)")
