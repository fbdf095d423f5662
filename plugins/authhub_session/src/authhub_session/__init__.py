"""authhub-session: server-side cookie sessions with CSRF protection.

The ``session`` scheme authenticates a request by its session cookie; the
cookie holds only a random 256-bit id and the store (the hub's database or
Redis) keeps its SHA-256 digest. Unsafe requests must carry the session's
CSRF token. :func:`login`, :func:`logout` and :func:`logout_all` start and
end sessions; ``authhub serve`` gains ``/login``, ``/logout`` and ``/``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import authhub
from authhub import Request, Setting
from authhub_session import csrf, pages
from authhub_session.api import csrf_token, login, logout, logout_all
from authhub_session.scheme import authenticate as _authenticate
from authhub_session.scheme import current_session
from authhub_session.sessions import SETTINGS, sessions_of
from authhub_session.stores import SessionData

if TYPE_CHECKING:
    import click

    from authhub import AuthHub
    from authhub.server import Route

__all__ = ["SessionData", "csrf_token", "current_session", "login", "logout", "logout_all"]

log = logging.getLogger("authhub.session")


@authhub.hookimpl
def authenticate(request: Request, settings: Mapping[str, Any], hub: AuthHub) -> tuple[Any, None] | None:
    return _authenticate(request, settings, hub)


@authhub.hookimpl
def scheme_settings() -> dict[str, Setting]:
    return SETTINGS


@authhub.hookimpl
def migration_directory() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@authhub.hookimpl
def serve_routes(hub: AuthHub) -> list[Route]:
    return pages.routes(hub)


@authhub.hookimpl
def register_commands(cli: click.Group) -> None:
    from authhub_session.cli import sessions_group

    cli.add_command(sessions_group)


@authhub.hookimpl
def auth_headers(hub: AuthHub, user: Any) -> dict[str, str]:
    """Log ``user`` in: the session cookie and a CSRF token for unsafe requests."""
    sessions = sessions_of(hub)
    session_id, session = sessions.start(user)
    return {"Cookie": f"{sessions.cookie.name}={session_id}", "X-CSRF-Token": csrf.mask(session.csrf_secret)}


@authhub.hookimpl
def user_changed(hub: AuthHub, username: str) -> None:
    """A new password or a deactivation ends the user's sessions everywhere (as Django does)."""
    find = getattr(hub.users, "get_by_username", None)
    user = find(username) if find is not None else None
    if user is None:
        return
    try:
        sessions_of(hub).end_all(user.id)
    except authhub.StoreUnavailable:
        # The change itself is done; sessions of an inactive user are refused anyway.
        log.error("could not end the sessions of a changed user: session store unavailable")
