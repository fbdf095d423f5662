"""authhub: one pluggable answer to "who sent this request?".

Everything a scheme distribution needs is importable from here and listed
in :data:`__all__`; the bundled schemes import nothing else from authhub.
"""

from importlib.metadata import PackageNotFoundError, version

from authhub.authorization import MalformedCredentials
from authhub.cache import TTLCache
from authhub.commands import pass_hub
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
    UserInactive,
)
from authhub.hookspecs import hookimpl, hookspec
from authhub.http import Response
from authhub.hub import AuthHub
from authhub.identity import AnonymousUser, Identity, User, UserLike
from authhub.outages import is_outage, outage_as_503
from authhub.outcome import Outcome
from authhub.pages import Pages
from authhub.reads import PreparedRead
from authhub.request import Headers, Request
from authhub.routes import Route
from authhub.scheme import Scheme
from authhub.store import Base, Store
from authhub.users import ManagedUserStore, SQLUserStore, UserStore

try:
    __version__ = version("authhub-core")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "AnonymousUser",
    "AuthHub",
    "AuthenticationFailed",
    "AuthhubError",
    "BadRequest",
    "Base",
    "ConfigurationError",
    "Headers",
    "Identity",
    "InternalError",
    "MalformedCredentials",
    "ManagedUserStore",
    "NotAuthenticated",
    "Outcome",
    "Pages",
    "PermissionDenied",
    "PluginError",
    "PreparedRead",
    "Request",
    "SQLUserStore",
    "Response",
    "Route",
    "Scheme",
    "Setting",
    "Settings",
    "Store",
    "StoreUnavailable",
    "TTLCache",
    "TooManyRequests",
    "User",
    "UserInactive",
    "UserLike",
    "UserStore",
    "__version__",
    "hookimpl",
    "hookspec",
    "is_outage",
    "outage_as_503",
    "pass_hub",
]
