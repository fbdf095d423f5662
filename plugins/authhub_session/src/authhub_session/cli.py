"""``authhub sessions ...``: purge expired sessions, end a user's sessions."""

from __future__ import annotations

import click

from authhub import AuthhubError
from authhub.cli import current_hub, ensure_tables
from authhub_session.sessions import Sessions, sessions_of
from authhub_session.stores import SQLSessionStore


@click.group("sessions")
def sessions_group() -> None:
    """Server-side login sessions."""


def _sessions() -> Sessions:
    hub = current_hub()
    try:
        sessions = sessions_of(hub)
    except AuthhubError as error:
        raise click.ClickException(error.detail) from None
    if isinstance(sessions.store, SQLSessionStore):
        ensure_tables(hub)
    return sessions


@sessions_group.command("purge")
def purge() -> None:
    """Delete every expired session (idle too long or past its lifetime)."""
    sessions = _sessions()
    try:
        count = sessions.purge()
    except AuthhubError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"purged {count} expired session{'' if count == 1 else 's'}")


@sessions_group.command("end")
@click.argument("username")
def end(username: str) -> None:
    """End every session of user USERNAME, on every server."""
    sessions = _sessions()
    hub = current_hub()
    ensure_tables(hub)
    try:
        user = hub.users.get_by_username(username)
        if user is None:
            raise click.ClickException(f"no user named {username!r}")
        count = sessions.end_all(user.id)
    except AuthhubError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"ended {count} session{'' if count == 1 else 's'} of {username!r}")
