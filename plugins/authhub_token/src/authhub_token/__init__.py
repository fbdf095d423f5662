"""authhub-token: database-backed API tokens, ``Authorization: Token <key>``.

The module's hooks are those that do not depend on a hub (settings, model,
migrations, commands) and ``create_scheme``, which gives each hub its own
:class:`TokenScheme`: the request path, the cache and the settings as
values live there. ``request.auth`` is a :class:`TokenInfo` (the token's
row as a light frozen value, with its scopes).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import authhub
from authhub_token.api import (
    LIFETIME,
    TokenError,
    create_token,
    list_live_tokens,
    list_tokens,
    revoke_token,
    revoke_user_token,
    revoke_user_tokens,
)
from authhub_token.keys import PATTERN, PREFIX
from authhub_token.models import BaseToken, Token
from authhub_token.scheme import INVALID_TOKEN, TokenScheme
from authhub_token.settings import SETTINGS, TokenSettings
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
    "TokenScheme",
    "TokenSettings",
    "__version__",
    "create_token",
    "list_live_tokens",
    "list_tokens",
    "revoke_token",
    "revoke_user_token",
    "revoke_user_tokens",
]


@authhub.hookimpl
def create_scheme(hub: authhub.AuthHub, name: str, settings: Mapping[str, Any]) -> TokenScheme:
    return TokenScheme(hub, name, settings)


@authhub.hookimpl
def scheme_settings() -> dict[str, authhub.Setting]:
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
