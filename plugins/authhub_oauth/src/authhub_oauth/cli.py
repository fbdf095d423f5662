"""``authhub oauth clients create|list|delete``, ``tokens revoke``, ``keys list|rotate`` and ``purge``.

Every command gets the configured hub from :func:`authhub.pass_hub`, which
also turns a :class:`~authhub_oauth.clients.ClientError` (an
:class:`authhub.AuthhubError`) into a one-line error and exit status 1.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys

import click
import sqlalchemy as sa
import sqlalchemy.orm

import authhub
from authhub import AuthHub
from authhub_oauth.clients import create_client, delete_client, list_clients, revoke_tokens
from authhub_oauth.models import (
    GRANT_TYPES,
    AuthorizationCode,
    OAuthToken,
    RevokedJWT,
    SigningKeyRecord,
    changed,
    utcnow,
)
from authhub_oauth.scheme import OAuthScheme


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
@authhub.pass_hub(read_only=True)
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


@oauth_group.command("purge")
@click.option("--older-than", default="30d", show_default=True, metavar="DURATION",
              help="Keep rows that ended more recently than this: 45s, 30m, 12h, 90d, 2w.")
@authhub.pass_hub
def purge(hub: AuthHub, older_than: str) -> None:
    """Delete expired authorization codes and token families that ended (expired or revoked); print how many went.

    Expired entries of the JWT revocation list, and signing keys retired before the cut-off, go too.
    """
    match = re.fullmatch(r"\s*([0-9]+)\s*([smhdw])\s*", older_than, re.IGNORECASE)
    if match is None:
        raise click.BadParameter(f"{older_than!r} is not a duration; use 45s, 30m, 12h, 90d or 2w",
                                 param_hint="--older-than")
    age = dt.timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2).lower()])
    codes, tokens = purge_rows(hub, utcnow() - age)
    click.echo(f"purged {codes} authorization code{'' if codes == 1 else 's'} "
               f"and {tokens} token{'' if tokens == 1 else 's'}")


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def purge_rows(hub: AuthHub, before: dt.datetime) -> tuple[int, int]:
    """Delete codes that expired before ``before`` and token families every row of which ended before it.

    A family goes whole or not at all: a rotated refresh token must stay while its family lives, so
    that its reuse is still recognised and revokes the family. A row ends when it is revoked, or when
    its access token and its refresh token (if any) have both expired. Gone rows need no announcement:
    they were refused already.
    """
    member = sa.orm.aliased(OAuthToken)
    # Every NULL is tested explicitly: NOT (NULL < x OR ...) is NULL, which would count a live row as ended.
    ended = sa.or_(
        sa.and_(member.revoked_at.is_not(None), member.revoked_at < before),
        sa.and_(member.expires_at < before,
                sa.or_(member.refresh_expires_at.is_(None), member.refresh_expires_at < before)),
    )
    alive = sa.select(member.id).where(member.family_id == OAuthToken.family_id, sa.not_(ended))
    with hub.store.session() as session:
        codes = changed(session.execute(sa.delete(AuthorizationCode).where(AuthorizationCode.expires_at < before)))
        tokens = changed(session.execute(sa.delete(OAuthToken).where(~alive.exists()),
                                         execution_options={"synchronize_session": False}))
        # The revocation list needs a JWT only until it expires; a key retired before ``before`` is published
        # no more, and nothing it signed is alive.
        session.execute(sa.delete(RevokedJWT).where(RevokedJWT.expires_at < utcnow()))
        session.execute(sa.delete(SigningKeyRecord).where(SigningKeyRecord.retire_after < before))
    return codes, tokens


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


@oauth_group.group("keys")
def keys_group() -> None:
    """The keys JWT access tokens and ID tokens are signed with."""


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@authhub.pass_hub(read_only=True)
def keys_list(hub: AuthHub, as_json: bool) -> None:
    """List the signing keys: kid, algorithm, created, current, published until (never a private part)."""
    keys = hub.find_scheme(OAuthScheme).server.keys.all_keys()
    if as_json:
        click.echo(json.dumps([key.as_json() for key in keys], indent=2))
        return
    if not keys:
        click.echo("No signing keys yet: the first is made when a JWT or an ID token is first issued.")
        return
    now = utcnow()
    click.echo("kid\talg\tcreated\tcurrent\tpublished until")
    for key in keys:
        if key.retire_after is None:
            until = "while current"
        else:
            until = key.retire_after.isoformat(timespec="seconds") + (" (retired)" if key.retire_after <= now else "")
        click.echo(f"{key.kid}\t{key.alg}\t{key.created_at.isoformat(timespec='seconds')}\t"
                   f"{'yes' if key.is_current else 'no'}\t{until}")


@keys_group.command("rotate")
@authhub.pass_hub
def keys_rotate(hub: AuthHub) -> None:
    """Make new current keys; the old ones stay published until every token they signed has expired."""
    server = hub.find_scheme(OAuthScheme).server
    algorithms = server.tokens.algorithms()
    if not algorithms:
        raise click.ClickException("nothing is signed without oauth.issuer: set it (AUTHHUB_OAUTH_ISSUER) first")
    made, retire_after = server.keys.rotate(algorithms)
    for key in made:
        click.echo(f"new current key {key.kid} ({key.alg})")
    click.echo(f"the keys they replace stay published until {retire_after.isoformat(timespec='seconds')}")
