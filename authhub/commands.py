"""What a plugin's ``authhub`` commands need: the configured hub, with its tables ready.

A plugin adds its commands in ``register_commands`` and receives the hub
with :func:`pass_hub`::

    @click.command()
    @authhub.pass_hub
    def purge(hub: authhub.AuthHub) -> None:
        ...

    @click.command()
    @authhub.pass_hub(read_only=True)  # creates nothing: a missing database is an error
    def report(hub: authhub.AuthHub) -> None:
        ...

Errors that users can fix become one line and a non-zero exit
(:class:`click.ClickException`), never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar, overload

import click

from authhub import revisions
from authhub.errors import AuthhubError, ConfigurationError, StoreUnavailable
from authhub.hub import AuthHub
from authhub.storeerrors import UPGRADE, DatabaseURLError, describe_outage, display_url, is_redis_error, sqlite_path

P = ParamSpec("P")
R = TypeVar("R")


def current_hub() -> AuthHub:
    """The hub of the running command, built from the configuration on first use."""
    context = click.get_current_context()
    root = context.find_root()
    hub = root.meta.get("authhub.hub")
    if hub is None:
        try:
            hub = AuthHub()
        except ConfigurationError as error:
            raise click.ClickException(_configuration_message(error)) from None
        root.meta["authhub.hub"] = hub
        root.call_on_close(hub.close)
    assert isinstance(hub, AuthHub)
    return hub


def _configuration_message(error: ConfigurationError) -> str:
    # A plugin that opens the store while the hub is built reports a bad database_url as its own
    # failure ("plugin 'session': ..."): the URL is the thing to fix, so name it alone.
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, DatabaseURLError):
            return cause.detail
        cause = cause.__cause__
    return error.detail


def error_message(hub: AuthHub, error: AuthhubError) -> str:
    """One line for ``error``: for an unreachable store, its real cause and the fix."""
    if isinstance(error, StoreUnavailable):
        url = hub.settings["database_url"]
        cause = error.__cause__
        if is_redis_error(cause):
            return f"{error.detail} {describe_outage(cause, url)}"
        return f"{error.detail} database {display_url(url)}: {describe_outage(cause, url)}"
    return error.detail


def ensure_tables(hub: AuthHub) -> None:
    """Bring the tables up to date before a command touches them."""
    try:
        hub.upgrade()
    except AuthhubError as error:
        raise click.ClickException(error_message(hub, error)) from None


def require_database(hub: AuthHub) -> None:
    """Refuse, without creating anything, a database that is missing or not up to date.

    For commands that only read: they must not leave an empty SQLite file
    behind in whatever directory they were run from.
    """
    absent = missing_file(hub)
    if absent is not None:
        raise click.ClickException(absent)
    try:
        pending = revisions.missing(hub)
    except AuthhubError as error:
        raise click.ClickException(error_message(hub, error)) from None
    if pending:
        raise click.ClickException(
            f"database {safe_url(hub)} is not up to date (missing {', '.join(pending)}): {UPGRADE}"
        )


def missing_file(hub: AuthHub) -> str | None:
    """The error for a SQLite database file that does not exist (asked before a connection would create it)."""
    path = sqlite_path(hub.settings["database_url"])
    if path is not None and not path.exists():
        return f"no database at {path}: {UPGRADE} to create it, or set database_url"
    return None


def safe_url(hub: AuthHub) -> str:
    """The hub's database URL for messages: no password, a SQLite path made absolute."""
    return display_url(hub.settings["database_url"])


@overload
def pass_hub(command: Callable[Concatenate[AuthHub, P], R], /) -> Callable[P, R]: ...


@overload
def pass_hub(
    *, read_only: bool = False
) -> Callable[[Callable[Concatenate[AuthHub, P], R]], Callable[P, R]]: ...


def pass_hub(
    command: Callable[Concatenate[AuthHub, P], R] | None = None, /, *, read_only: bool = False
) -> Callable[P, R] | Callable[[Callable[Concatenate[AuthHub, P], R]], Callable[P, R]]:
    """Call the decorated click command with the configured hub first.

    ``@authhub.pass_hub`` brings the tables up to date first (creating the
    database if need be); ``@authhub.pass_hub(read_only=True)`` creates and
    upgrades nothing and refuses a missing or outdated database with one
    line naming ``authhub db upgrade``. An :class:`authhub.AuthhubError`
    the command raises becomes a one-line error and exit status 1.
    """

    def decorate(command: Callable[Concatenate[AuthHub, P], R]) -> Callable[P, R]:
        @functools.wraps(command)
        def with_hub(*args: P.args, **kwargs: P.kwargs) -> R:
            hub = current_hub()
            if read_only:
                require_database(hub)
            else:
                ensure_tables(hub)
            try:
                return command(hub, *args, **kwargs)
            except AuthhubError as error:
                raise click.ClickException(error_message(hub, error)) from None

        return with_hub

    if command is not None:
        return decorate(command)
    return decorate
