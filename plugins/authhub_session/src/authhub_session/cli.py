"""``authhub sessions ...``: purge expired sessions, end a user's sessions."""

from __future__ import annotations

import click

import authhub
from authhub_session.scheme import SessionScheme


@click.group("sessions")
def sessions_group() -> None:
    """Server-side login sessions."""


@sessions_group.command("purge")
@authhub.pass_hub
def purge(hub: authhub.AuthHub) -> None:
    """Delete every expired session (idle too long or past its lifetime)."""
    count = hub.find_scheme(SessionScheme).purge()
    click.echo(f"purged {count} expired session{'' if count == 1 else 's'}")


@sessions_group.command("end")
@click.argument("username")
@authhub.pass_hub
def end(hub: authhub.AuthHub, username: str) -> None:
    """End every session of user USERNAME, on every server."""
    sessions = hub.find_scheme(SessionScheme)
    user = hub.users.get_by_username(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    count = sessions.end_all(user.id)
    click.echo(f"ended {count} session{'' if count == 1 else 's'} of {username!r}")
