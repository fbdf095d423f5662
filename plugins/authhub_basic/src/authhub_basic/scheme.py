"""One hub's Basic scheme: its checked settings, its challenge and its cache."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authhub import AuthenticationFailed, ConfigurationError, PermissionDenied, Setting
from authhub_basic.cache import CredentialCache
from authhub_basic.credentials import Credentials, basic_token, decode_token

if TYPE_CHECKING:
    from authhub import AuthHub, Request

SETTINGS: dict[str, Setting] = {
    "realm": Setting("api", help="The realm named in the WWW-Authenticate challenge."),
    "cache_ttl": Setting(0.0, kind=float,
                         help="Seconds a verified user:password stays cached in this process; 0 turns the cache off."),
    "cache_size": Setting(10000, kind=int, help="The most verified credentials the cache keeps."),
    "max_header_size": Setting(8192, kind=int,
                               help="Longest Basic Authorization header (characters) read; longer ones are refused."),
}

_CONTROL = re.compile("[\x00-\x1f\x7f]")


def challenge_for(realm: str) -> str:
    """The ``WWW-Authenticate`` value for ``realm`` (RFC 7617 §2, ``charset="UTF-8"``)."""
    if _CONTROL.search(realm):
        raise ConfigurationError("basic.realm: must not contain control characters")
    quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
    return f'Basic realm="{quoted}", charset="UTF-8"'


class BasicScheme:
    """Basic authentication as configured by one settings section.

    :param settings: the ``basic`` section of a hub's settings.
    :raises ConfigurationError: a setting out of range.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        challenge_for(settings["realm"])  # refuses a realm that cannot go into a header
        self.max_header_size: int = settings["max_header_size"]
        if self.max_header_size < 16:
            raise ConfigurationError(f"basic.max_header_size: must be at least 16, got {self.max_header_size}")
        ttl: float = settings["cache_ttl"]
        size: int = settings["cache_size"]
        if ttl < 0:
            raise ConfigurationError(f"basic.cache_ttl: must be 0 (off) or a number of seconds, got {ttl}")
        if size < 1:
            raise ConfigurationError(f"basic.cache_size: must be at least 1, got {size}")
        self.cache: CredentialCache | None = CredentialCache(ttl, size) if ttl > 0 else None

    def authenticate(self, request: Request, hub: AuthHub) -> tuple[Any, None] | None:
        """``(user, None)`` for good Basic credentials, ``None`` without any; raises for bad ones."""
        token = basic_token(request.authorization, self.max_header_size)
        if token is None:
            return None
        if not request.is_safe_method:
            refuse_cross_site(request)
        cache = self.cache
        key: bytes | None = None
        generation = 0
        if cache is not None and token.isascii():  # a non-ASCII token is refused by decode_token
            key = cache.digest(token)
            user = cache.get(key)
            if user is not None:
                return user, None
            generation = cache.generation
        credentials = decode_token(token)
        user = check_password(request, hub, credentials)
        if cache is not None and key is not None:
            cache.put(key, user, _usernames(credentials.user_id, user), generation)
        return user, None

    def forget(self, username: str) -> None:
        """Drop ``username``'s cached credentials, if any."""
        if self.cache is not None:
            self.cache.forget(username)

    def __repr__(self) -> str:
        return f"<BasicScheme realm={self.settings['realm']!r} cache={self.cache!r}>"


CROSS_SITE = ("Basic credentials are not accepted on a cross-site request: a browser sends the ones it "
              "remembers by itself. Send the request from this site, or use a token.")


def refuse_cross_site(request: Request) -> None:
    """403 for an unsafe request a browser sent from another site (issue 14).

    A browser that once saw this site's Basic challenge resends the
    credentials on any request to it, also on a form another site posts:
    the same CSRF a cookie has. ``Sec-Fetch-Site`` decides when the browser
    sends it (``cross-site`` is refused); otherwise an ``Origin`` other than
    this site's own (``null`` included) is refused. Clients that are not
    browsers send neither and are not affected.
    """
    fetch_site = request.headers.get_all("sec-fetch-site")
    if fetch_site:
        if fetch_site[-1].strip().lower() == "cross-site":
            raise PermissionDenied(CROSS_SITE)
        return
    origin = request.headers.get_all("origin")
    if origin and origin[-1].strip().lower().rstrip("/") != request.origin.lower():
        raise PermissionDenied(CROSS_SITE)


def check_password(request: Request, hub: AuthHub, credentials: Credentials) -> Any:
    """The user, from the hub's user store, behind the hub's lockout for ``user:<user-id>``.

    :raises TooManyRequests: while the user, the client address or the pair is locked out.
    :raises AuthenticationFailed: wrong password, unknown or inactive user (counted as a failure).
    """
    lockout = hub.lockout
    subject = f"user:{credentials.user_id}"
    lockout.check(request, subject)
    try:
        user = hub.users.check_password(credentials.user_id, credentials.password)
    except AuthenticationFailed:
        lockout.failed(request, subject)
        raise
    lockout.succeeded(request, subject)
    return user


def _usernames(user_id: str, user: Any) -> frozenset[str]:
    """The names ``user_changed`` may use for this user: as sent, and as the store spells it."""
    username = getattr(user, "username", None)
    return frozenset({user_id} if not isinstance(username, str) else {user_id, username})
