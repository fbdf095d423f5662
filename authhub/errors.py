"""The errors authhub raises, each knowing the HTTP status it becomes."""

from __future__ import annotations

from collections.abc import Mapping


class AuthhubError(Exception):
    """Base of every authhub error.

    ``detail`` is what the client reads in the JSON body; it never holds a
    credential. ``headers`` are added to the response (``Retry-After``, a
    scheme's own ``WWW-Authenticate`` for a 403, ...).
    """

    status_code: int = 500
    default_detail: str = "Internal error."

    def __init__(
        self,
        detail: str | None = None,
        *,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.detail = detail if detail is not None else self.default_detail
        if status_code is not None:
            self.status_code = status_code
        self.headers: dict[str, str] = dict(headers or {})
        #: The scheme whose plugin raised the error, filled in by the chain.
        self.scheme: str | None = None
        super().__init__(self.detail)


class AuthenticationFailed(AuthhubError):
    """Credentials of a scheme's kind were present and wrong: the chain stops."""

    status_code = 401
    default_detail = "Incorrect authentication credentials."


class UserInactive(AuthenticationFailed):
    """The credentials are right but their user is inactive or gone: refused like wrong ones."""

    default_detail = "User inactive or deleted."


class NotAuthenticated(AuthhubError):
    """A view requires an authenticated user and the request has none."""

    status_code = 401
    default_detail = "Authentication credentials were not provided."


class PermissionDenied(AuthhubError):
    """The request is authenticated but may not do what it asks (CSRF, scope)."""

    status_code = 403
    default_detail = "You do not have permission to perform this action."


class BadRequest(AuthhubError):
    """The request is malformed (for instance a repeated ``Authorization`` header)."""

    status_code = 400
    default_detail = "Malformed request."


class TooManyRequests(AuthhubError):
    """Too many failed attempts: locked out for a while (``Retry-After``)."""

    status_code = 429
    default_detail = "Too many failed attempts. Try again later."

    def __init__(self, detail: str | None = None, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(int(retry_after))})
        self.retry_after = int(retry_after)


class ConfigurationError(AuthhubError):
    """The configuration, or the set of installed plugins, cannot work."""

    status_code = 500
    default_detail = "authhub is misconfigured."


class PluginError(ConfigurationError):
    """A plugin was refused: its name is taken or its hooks do not match the specs."""


class InternalError(AuthhubError):
    """A plugin failed with an unexpected exception: the request is refused, never let through."""

    status_code = 500
    default_detail = "Authentication failed because of an internal error."


class StoreUnavailable(AuthhubError):
    """The database (or Redis) behind the hub cannot be reached."""

    status_code = 503
    default_detail = "Authentication store unavailable."
