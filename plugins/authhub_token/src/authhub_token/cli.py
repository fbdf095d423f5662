"""``authhub tokens``: create, list, revoke and purge tokens from the shell.

``create`` prints the key alone on stdout, so ``KEY=$(authhub tokens
create alice)`` works; everything else a command says goes to stderr or
is a table. Errors exit non-zero with a message and change nothing.
Users are named as the hub's user store knows them (``hub.users``), the
built-in table or an application's own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import click
import sqlalchemy as sa

import authhub
from authhub_token import api
from authhub_token.scheme import TokenScheme
from authhub_token.settings import parse_duration


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """``45s``, ``30m``, ``12h``, ``90d``, ``2w`` or ``never``."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.timedelta) or value is None:
            return value
        try:
            return parse_duration(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


@contextlib.contextmanager
def _token_errors() -> Iterator[None]:
    """A :class:`~authhub_token.TokenError` becomes one line on stderr and exit status 1."""
    try:
        yield
    except api.TokenError as error:
        raise click.ClickException(str(error)) from None


@click.group("tokens")
def tokens() -> None:
    """Manage API tokens (Authorization: Token <key>)."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", default="default", show_default=True, help="A label for the token.")
@click.option("--expires", type=Duration(), default=None,
              help="Lifetime: 45s, 30m, 12h, 90d, 2w or 'never' (default: the token.lifetime setting).")
@click.option("--scope", "scopes", multiple=True, help="A scope the token carries (repeatable).")
@authhub.pass_hub
def create(hub: authhub.AuthHub, user: str, name: str, expires: Any, scopes: tuple[str, ...]) -> None:
    """Create a token for USER and print its key (only the key, only this once)."""
    source = click.get_current_context().get_parameter_source("expires")
    expires_in = api.LIFETIME if source is click.core.ParameterSource.DEFAULT else expires
    with _token_errors():
        new = api.create_token(hub, user, name=name, expires_in=expires_in, scopes=scopes)
    click.echo(new.key)


@tokens.command("list")
@click.argument("user", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@authhub.pass_hub(read_only=True)
def list_(hub: authhub.AuthHub, user: str | None, as_json: bool) -> None:
    """List tokens (of USER when given): never their keys."""
    with _token_errors():
        records = api.list_tokens(hub, user)
    if as_json:
        click.echo(json.dumps([record.as_json() for record in records], indent=2))
        return
    header = ("ID", "USER", "NAME", "CREATED", "LAST USED", "EXPIRES", "REVOKED")
    rows = [header] + [
        (str(r.id), r.username or f"({r.user_id}: gone)", r.name or "-", _when(r.created_at), _when(r.last_used_at),
         _when(r.expires_at) if r.expires_at is not None else "never", "yes" if r.revoked else "no")
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@tokens.command("revoke")
@click.argument("token_id", required=False, type=int)
@click.option("--user", help="With --all: the user whose tokens to revoke.")
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every token of --user.")
@authhub.pass_hub
def revoke(hub: authhub.AuthHub, token_id: int | None, user: str | None, revoke_all: bool) -> None:
    """Revoke token TOKEN_ID, or every token of a user with --user USER --all."""
    if token_id is not None and (user is not None or revoke_all):
        raise click.UsageError("give either TOKEN_ID or --user USER --all, not both")
    if token_id is None:
        if user is None or not revoke_all:
            raise click.UsageError("give TOKEN_ID, or --user USER --all")
        with _token_errors():
            count = api.revoke_user_tokens(hub, user)
        click.echo(f"revoked {count} token(s) of {user!r}")
        return
    with _token_errors():
        was_live = api.revoke_token(hub, token_id)
    if was_live:
        click.echo(f"token {token_id} revoked")
    else:
        click.echo(f"token {token_id} was already revoked")


@tokens.command("purge")
@click.option("--older-than", type=Duration(), default="30d", show_default=True,
              help="Keep tokens that expired, or revoked tokens last used (or made), more recently than this.")
@authhub.pass_hub
def purge(hub: authhub.AuthHub, older_than: dt.timedelta | None) -> None:
    """Delete expired and revoked tokens older than --older-than; print how many went."""
    if older_than is None:
        raise click.BadParameter("give a duration such as 30d", param_hint="--older-than")
    count = purge_tokens(hub, dt.datetime.now(dt.timezone.utc) - older_than)
    click.echo(f"purged {count} expired or revoked token{'' if count == 1 else 's'}")


def purge_tokens(hub: authhub.AuthHub, before: dt.datetime) -> int:
    """Delete tokens that expired before ``before``, and revoked ones last used (or made) before it.

    A token model without those columns loses every revoked token: its age cannot be told.
    Gone rows need no announcement: an expired or revoked token is refused already.
    """
    lookup = hub.find_scheme(TokenScheme).lookup
    columns = lookup.table.c
    dead = []
    if lookup.has["expires_at"]:
        dead.append(columns.expires_at < before)
    stamps = [columns[name] for name in ("last_used_at", "created_at") if name in columns]
    revoked = columns.revoked.is_(sa.true())
    if stamps:
        last_seen = stamps[0] if len(stamps) == 1 else sa.func.coalesce(*stamps)
        revoked = sa.and_(revoked, last_seen < before)
    dead.append(revoked)
    with hub.store.connect() as connection:
        result = connection.execute(sa.delete(lookup.table).where(sa.or_(*dead)))
        return int(result.rowcount)


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "-"
