"""HTTP Basic authentication (RFC 7617) for authhub: the scheme ``basic``.

Installed, it is found through the entry point ``basic`` in the group
``authhub``. It reads ``Authorization: Basic <base64(user-id:password)>``,
checks the password with the hub's user store and answers
``(user, None)``: ``request.auth`` is ``None`` for Basic.

Settings (``[tool.authhub.basic]``, ``AUTHHUB_BASIC_<KEY>``,
``AuthHub(basic={...})``): ``realm``, ``cache_ttl``, ``cache_size``,
``max_header_size``; see :data:`authhub_basic.scheme.SETTINGS`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import authhub
from authhub_basic.cache import CredentialCache
from authhub_basic.credentials import Credentials, basic_token, decode_token, encode_credentials
from authhub_basic.scheme import SETTINGS, BasicScheme, challenge_for

if TYPE_CHECKING:
    from authhub import AuthHub, Request, Setting

try:
    __version__ = version("authhub-basic")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "BasicScheme",
    "CredentialCache",
    "Credentials",
    "__version__",
    "basic_token",
    "decode_token",
    "encode_credentials",
    "scheme_for",
]

# Each hub gets its own scheme (and cache), dropped with the hub: nothing is
# shared between two hubs of one process.
_schemes: weakref.WeakKeyDictionary[Any, BasicScheme] = weakref.WeakKeyDictionary()
_schemes_lock = threading.Lock()


def scheme_for(hub: AuthHub, settings: Mapping[str, Any]) -> BasicScheme:
    """The :class:`BasicScheme` of ``hub``, made anew when its settings change."""
    scheme = _schemes.get(hub)
    if scheme is None or scheme.settings is not settings:
        with _schemes_lock:
            scheme = _schemes.get(hub)
            if scheme is None or scheme.settings is not settings:
                scheme = BasicScheme(settings)
                _schemes[hub] = scheme
    return scheme


@authhub.hookimpl
def scheme_settings() -> dict[str, Setting]:
    return dict(SETTINGS)


@authhub.hookimpl
def authenticate(request: Request, settings: Mapping[str, Any], hub: AuthHub) -> tuple[Any, None] | None:
    return scheme_for(hub, settings).authenticate(request, hub)


@authhub.hookimpl
def challenge(settings: Mapping[str, Any]) -> str:
    return challenge_for(settings["realm"])


@authhub.hookimpl
def user_changed(username: str) -> None:
    # Every hub of the process forgets the user, not only the one that
    # changed it: two hubs may share a database, and a needless miss only
    # costs one password check.
    with _schemes_lock:
        schemes = list(_schemes.values())
    for scheme in schemes:
        scheme.forget(username)


@authhub.hookimpl
def auth_headers(user: Any, password: str | None) -> dict[str, str] | None:
    if password is None:
        return None
    return {"Authorization": encode_credentials(user.username, password)}
