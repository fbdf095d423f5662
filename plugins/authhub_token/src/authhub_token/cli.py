"""``authhub tokens``: create, list and revoke tokens from the shell.

``create`` prints the key alone on stdout, so ``KEY=$(authhub tokens
create alice)`` works; everything else a command says goes to stderr or
is a table. Errors exit non-zero with a message and change nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from authhub import AuthhubError
from authhub.cli import current_hub, ensure_tables
from authhub_token import api
from authhub_token.config import parse_duration

T = TypeVar("T")


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


def _run(action: Callable[[Any], T]) -> T:
    hub = current_hub()
    ensure_tables(hub)
    try:
        return action(hub)
    except api.TokenError as error:
        raise click.ClickException(str(error)) from None
    except AuthhubError as error:
        raise click.ClickException(error.detail) from None


@click.group("tokens")
def tokens() -> None:
    """Manage API tokens (Authorization: Token <key>)."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", default="default", show_default=True, help="A label for the token.")
@click.option("--expires", type=Duration(), default=None,
              help="Lifetime: 45s, 30m, 12h, 90d, 2w or 'never' (default: the token.lifetime setting).")
@click.option("--scope", "scopes", multiple=True, help="A scope the token carries (repeatable).")
def create(user: str, name: str, expires: Any, scopes: tuple[str, ...]) -> None:
    """Create a token for USER and print its key (only the key, only this once)."""
    source = click.get_current_context().get_parameter_source("expires")
    expires_in = api.LIFETIME if source is click.core.ParameterSource.DEFAULT else expires
    new = _run(lambda hub: api.create_token(hub, user, name=name, expires_in=expires_in, scopes=scopes))
    click.echo(new.key)


@tokens.command("list")
@click.argument("user", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_(user: str | None, as_json: bool) -> None:
    """List tokens (of USER when given): never their keys."""
    records = _run(lambda hub: api.list_tokens(hub, user))
    if as_json:
        click.echo(json.dumps([record.as_json() for record in records], indent=2))
        return
    header = ("ID", "USER", "NAME", "CREATED", "LAST USED", "EXPIRES", "REVOKED")
    rows = [header] + [
        (str(r.id), r.username, r.name or "-", _when(r.created_at), _when(r.last_used_at),
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
def revoke(token_id: int | None, user: str | None, revoke_all: bool) -> None:
    """Revoke token TOKEN_ID, or every token of a user with --user USER --all."""
    if token_id is not None and (user is not None or revoke_all):
        raise click.UsageError("give either TOKEN_ID or --user USER --all, not both")
    if token_id is None:
        if user is None or not revoke_all:
            raise click.UsageError("give TOKEN_ID, or --user USER --all")
        count = _run(lambda hub: api.revoke_user_tokens(hub, user))
        click.echo(f"revoked {count} token(s) of {user!r}")
        return
    if _run(lambda hub: api.revoke_token(hub, token_id)):
        click.echo(f"token {token_id} revoked")
    else:
        click.echo(f"token {token_id} was already revoked")


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "-"
