"""What a plugin's ``authhub`` commands need: the configured hub, with its tables ready.

A plugin adds its commands in ``register_commands`` and receives the hub
with :func:`pass_hub`::

    @click.command()
    @authhub.pass_hub
    def purge(hub: authhub.AuthHub) -> None:
        ...

Errors that users can fix become one line and a non-zero exit
(:class:`click.ClickException`), never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import click
from sqlalchemy.engine import make_url

from authhub.errors import AuthhubError, ConfigurationError
from authhub.hub import AuthHub

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
            raise click.ClickException(str(error)) from None
        root.meta["authhub.hub"] = hub
        root.call_on_close(hub.close)
    assert isinstance(hub, AuthHub)
    return hub


def ensure_tables(hub: AuthHub) -> None:
    """Bring the tables up to date before a command touches them."""
    try:
        hub.upgrade()
    except AuthhubError as error:
        raise click.ClickException(f"{error.detail} ({safe_url(hub)})") from None


def safe_url(hub: AuthHub) -> str:
    """The hub's database URL without its password, for messages."""
    return make_url(hub.settings["database_url"]).render_as_string(hide_password=True)


def pass_hub(command: Callable[Concatenate[AuthHub, P], R]) -> Callable[P, R]:
    """Call the decorated click command with the configured hub first, its tables brought up to date.

    An :class:`authhub.AuthhubError` the command raises becomes a one-line
    error and exit status 1.
    """

    @functools.wraps(command)
    def with_hub(*args: P.args, **kwargs: P.kwargs) -> R:
        hub = current_hub()
        ensure_tables(hub)
        try:
            return command(hub, *args, **kwargs)
        except AuthhubError as error:
            raise click.ClickException(error.detail) from None

    return with_hub


