"""Creating a token over HTTP: who may, and which options a request may ask for.

``POST /tokens`` and the account page both go through here, so they keep
the same rules:

- only a caller who proved the account itself may create a token: a scheme
  named in ``create_schemes`` (Basic, a session) that vouches for the user
  alone (``request.auth`` is ``None``). A request authenticated by a token
  of any kind is refused, so a leaked token cannot mint more, and a new
  token can never carry more than its creator holds;
- ``expires`` is bounded by ``max_lifetime``; a lifetime beyond it is a 400.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

import authhub
from authhub_token.api import TokenError, create_token
from authhub_token.scheme import TokenScheme
from authhub_token.settings import NEVER, TokenSettings, parse_duration
from authhub_token.values import NewToken

#: The options a request may give; anything else is refused (a misspelt ``scope`` must not pass unnoticed).
FIELDS = ("name", "expires", "scopes")
DEFAULT_NAME = "default"
#: Longer than any duration anyone writes: the rest is refused before it is parsed.
MAX_DURATION_TEXT = 32
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


@attrs.frozen
class Options:
    """What a request asks of its new token, checked."""

    name: str
    expires_in: dt.timedelta | None
    scopes: tuple[str, ...]


def creator(scheme: TokenScheme, request: authhub.Request) -> Any:
    """The user ``request`` may create a token for; refuses anonymous (401) and token-authenticated (403) callers."""
    identity = request.identity
    if not identity.is_authenticated:
        raise authhub.NotAuthenticated()
    allowed = scheme.values.create_schemes
    if identity.scheme not in allowed or identity.auth is not None:
        how = " or ".join(sorted(allowed)) or "no scheme (token.create_schemes is empty)"
        raise authhub.PermissionDenied(
            f"Tokens are created by a caller signed in with {how}, not with a token: a token cannot mint more."
        )
    return identity.user


def read_options(values: TokenSettings, fields: Mapping[str, Any]) -> Options:
    """Check the options ``name``, ``expires`` and ``scopes``; :class:`authhub.BadRequest` naming a wrong one."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise authhub.BadRequest(f"Unknown option(s) {', '.join(map(repr, unknown))}; a token takes "
                                 f"{', '.join(FIELDS)}.")
    name = fields.get("name")
    if name is None:
        name = DEFAULT_NAME
    elif not isinstance(name, str):
        raise authhub.BadRequest("name: must be a string.")
    scopes = fields.get("scopes")
    if scopes is None:
        scopes = []
    elif not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise authhub.BadRequest('scopes: must be a list of scope names, such as ["read", "write"].')
    return Options(name, lifetime(values, fields.get("expires")), tuple(scopes))


def lifetime(values: TokenSettings, expires: Any) -> dt.timedelta | None:
    """The lifetime ``expires`` asks for (``None``: the default), within ``max_lifetime``."""
    bound = values.max_lifetime
    if expires is None:
        return default_lifetime(values)
    if not isinstance(expires, str):
        raise authhub.BadRequest("expires: must be a duration such as \"30d\" (45s, 30m, 12h, 90d, 2w) or \"never\".")
    if len(expires) > MAX_DURATION_TEXT:
        raise authhub.BadRequest("expires: not a duration; use 45s, 30m, 12h, 90d, 2w or 'never'.")
    try:
        asked = parse_duration(expires)
    except ValueError as error:
        raise authhub.BadRequest(f"expires: {error}.") from None
    if bound is not None and (asked is None or asked > bound):
        raise authhub.BadRequest(
            f"expires: {expires.strip()!r} is out of range: a token made here lives at most {duration_text(bound)}."
        )
    return asked


def default_lifetime(values: TokenSettings) -> dt.timedelta | None:
    """A new token's lifetime when the request names none: ``lifetime``, within ``max_lifetime``."""
    default, bound = values.lifetime, values.max_lifetime
    if bound is None:
        return default
    return bound if default is None else min(default, bound)


def issue(scheme: TokenScheme, user: Any, options: Options) -> NewToken:
    """Create the token ``options`` describe for ``user`` (found by :func:`creator`); the key is in the answer alone."""
    try:
        return create_token(scheme.hub, user.username, name=options.name, expires_in=options.expires_in,
                            scopes=options.scopes)
    except TokenError as error:
        raise authhub.BadRequest(f"{error}.") from None


def duration_text(value: dt.timedelta | None) -> str:
    """``30d``, ``12h``, ``90m``, ``45s`` (the largest unit that fits exactly) or ``never``."""
    if value is None:
        return NEVER[0]
    seconds = int(value.total_seconds())
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("a whole number of seconds always fits")  # pragma: no cover
