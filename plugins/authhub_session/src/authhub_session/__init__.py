"""authhub-session: server-side cookie sessions with CSRF protection.

The ``session`` scheme authenticates a request by its session cookie; the
cookie holds only a random 256-bit id and the store (the hub's database or
Redis) keeps its SHA-256 digest. Unsafe requests must carry the session's
CSRF token. :func:`login`, :func:`logout` and :func:`logout_all` start and
end sessions; ``authhub serve`` gains ``/login``, ``/logout`` and ``/``.

Each hub gets its own :class:`SessionScheme` (``create_scheme``), which
holds that hub's store, cookie policy and timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import authhub
from authhub import Setting
from authhub_session.api import csrf_token, login, logout, logout_all
from authhub_session.scheme import SessionScheme, current_session
from authhub_session.settings import SETTINGS
from authhub_session.stores import SessionData

if TYPE_CHECKING:
    import click

try:
    __version__ = version("authhub-session")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "SessionData",
    "SessionScheme",
    "__version__",
    "csrf_token",
    "current_session",
    "login",
    "logout",
    "logout_all",
]


@authhub.hookimpl
def create_scheme(hub: authhub.AuthHub, name: str, settings: Mapping[str, Any]) -> SessionScheme:
    return SessionScheme(hub, name, settings)


@authhub.hookimpl
def scheme_settings() -> dict[str, Setting]:
    return SETTINGS


@authhub.hookimpl
def migration_directory() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@authhub.hookimpl
def register_commands(cli: click.Group) -> None:
    from authhub_session.cli import sessions_group

    cli.add_command(sessions_group)
