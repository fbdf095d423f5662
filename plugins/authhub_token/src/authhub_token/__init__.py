"""authhub-token: database-backed API tokens, ``Authorization: Token <key>``.

The scheme's hooks. The request path is :func:`authenticate`; the model,
keys, query, cache and management API each live in their own module.
``request.auth`` is a :class:`TokenInfo` (the token's row as a light
frozen value, with its scopes).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import authhub
from authhub import AuthenticationFailed, AuthhubError, Setting
from authhub_token.api import (
    LIFETIME,
    TokenError,
    create_token,
    list_tokens,
    revoke_token,
    revoke_user_tokens,
)
from authhub_token.authenticator import INVALID_TOKEN, UnknownToken
from authhub_token.config import SETTINGS
from authhub_token.keys import PATTERN, PREFIX
from authhub_token.models import BaseToken, Token
from authhub_token.registry import authenticator_for, forget_everywhere, scheme_name
from authhub_token.values import NewToken, TokenInfo, TokenRecord

if TYPE_CHECKING:
    import click

try:
    __version__ = version("authhub-token")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "INVALID_TOKEN",
    "LIFETIME",
    "PATTERN",
    "PREFIX",
    "BaseToken",
    "NewToken",
    "Token",
    "TokenError",
    "TokenInfo",
    "TokenRecord",
    "__version__",
    "create_token",
    "list_tokens",
    "revoke_token",
    "revoke_user_tokens",
]

NO_CREDENTIALS = "Invalid token header. No credentials provided."
SPACES = "Invalid token header. Token string should not contain spaces."


@authhub.hookimpl
def authenticate(request: authhub.Request, settings: Mapping[str, Any], hub: authhub.AuthHub) -> Any:
    header = request.authorization
    if header is None:
        return None
    authenticator = authenticator_for(hub, settings)
    parts = header.split()
    if not parts or parts[0].lower() != authenticator.keyword:
        return None
    if len(parts) == 1:
        raise AuthenticationFailed(NO_CREDENTIALS)
    if len(parts) > 2:
        raise AuthenticationFailed(SPACES)
    try:
        return authenticator.authenticate(parts[1])
    except UnknownToken:
        # Guessing keys: count it against the key's prefix and the address, and
        # answer 429 once they are locked (valid keys never pay for this).
        subject = f"token:{parts[1][:PREFIX_LENGTH]}"
        hub.lockout.check(request, subject)
        hub.lockout.failed(request, subject)
        raise


#: How much of a key names it for the lockout: ``ahk_`` and 8 random characters.
PREFIX_LENGTH = len(PREFIX) + 8


@authhub.hookimpl
def challenge(settings: Mapping[str, Any]) -> str:
    return str(settings["keyword"])


@authhub.hookimpl
def scheme_settings() -> dict[str, Setting]:
    return SETTINGS


@authhub.hookimpl(trylast=True)
def token_model() -> type[BaseToken]:
    return Token


@authhub.hookimpl
def migration_directory() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@authhub.hookimpl
def register_commands(cli: click.Group) -> None:
    from authhub_token.cli import tokens

    cli.add_command(tokens)


@authhub.hookimpl
def user_changed(username: str) -> None:
    forget_everywhere(username=username)


@authhub.hookimpl
def auth_headers(hub: authhub.AuthHub, user: Any) -> dict[str, str]:
    try:
        new = create_token(hub, user.username, name="test")
    except TokenError as error:
        raise AuthhubError(str(error)) from None
    keyword = authenticator_for(hub, hub.settings.section(scheme_name(hub))).settings.keyword
    return {"Authorization": f"{keyword} {new.key}"}
