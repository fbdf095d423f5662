"""authhub: one pluggable answer to "who sent this request?"."""

from importlib.metadata import PackageNotFoundError, version

from authhub.config import Setting, Settings
from authhub.errors import (
    AuthenticationFailed,
    AuthhubError,
    BadRequest,
    ConfigurationError,
    InternalError,
    NotAuthenticated,
    PermissionDenied,
    PluginError,
    StoreUnavailable,
    TooManyRequests,
)
from authhub.hookspecs import hookimpl, hookspec
from authhub.http import Response
from authhub.hub import AuthHub
from authhub.identity import AnonymousUser, Identity, User
from authhub.outcome import Outcome
from authhub.request import Headers, Request
from authhub.users import UserStore

try:
    __version__ = version("authhub")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "AnonymousUser",
    "AuthHub",
    "AuthenticationFailed",
    "AuthhubError",
    "BadRequest",
    "ConfigurationError",
    "Headers",
    "Identity",
    "InternalError",
    "NotAuthenticated",
    "Outcome",
    "PermissionDenied",
    "PluginError",
    "Request",
    "Response",
    "Setting",
    "Settings",
    "StoreUnavailable",
    "TooManyRequests",
    "User",
    "UserStore",
    "__version__",
    "hookimpl",
    "hookspec",
]
