"""The session cookie: its ``Set-Cookie`` lines, and what a well-formed value looks like."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from authhub import ConfigurationError, Request

#: A session id is 32 random bytes, URL-safe base64 without padding.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
_TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
_EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"


@attrs.frozen
class CookiePolicy:
    """How the session cookie is written (from the scheme's settings)."""

    name: str
    path: str
    domain: str | None
    samesite: str
    always_secure: bool

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], section: str = "session") -> CookiePolicy:
        """The policy the scheme's settings describe (``section`` names them in errors)."""
        name = settings["cookie_name"]
        if not _TOKEN_CHARS.fullmatch(name):
            raise ConfigurationError(f"{section}.cookie_name: {name!r} is not a valid cookie name")
        samesite = _SAMESITE.get(settings["cookie_samesite"].lower())
        if samesite is None:
            raise ConfigurationError(
                f"{section}.cookie_samesite: expected Lax, Strict or None, got {settings['cookie_samesite']!r}"
            )
        path = settings["cookie_path"]
        domain = settings["cookie_domain"]
        for key, value in (("cookie_path", path), ("cookie_domain", domain or "")):
            if any(char in value for char in ";,\r\n") or not value.isprintable():
                raise ConfigurationError(f"{section}.{key}: {value!r} may not hold ';', ',' or control characters")
        # Browsers refuse SameSite=None without Secure.
        return cls(name, path, domain, samesite, settings["cookie_secure"] or samesite == "None")

    def _attributes(self, request: Request | None) -> list[str]:
        parts = [f"Path={self.path}"]
        if self.domain:
            parts.append(f"Domain={self.domain}")
        parts.append("HttpOnly")
        parts.append(f"SameSite={self.samesite}")
        if self.always_secure or (request is not None and request.is_secure):
            parts.append("Secure")
        return parts

    def set_cookie(self, value: str, max_age: int | None, request: Request | None) -> tuple[str, str]:
        """The ``Set-Cookie`` line storing ``value`` for ``max_age`` seconds (``None``: until the browser closes)."""
        lifetime = [] if max_age is None else [f"Max-Age={max_age}"]
        return "Set-Cookie", "; ".join([f"{self.name}={value}", *lifetime, *self._attributes(request)])

    def clear_cookie(self, request: Request | None) -> tuple[str, str]:
        """The ``Set-Cookie`` line that makes the browser drop the cookie."""
        return "Set-Cookie", "; ".join(
            [f"{self.name}=", "Max-Age=0", f"Expires={_EXPIRED}", *self._attributes(request)]
        )

    def is_own(self, header: tuple[str, str]) -> bool:
        """Whether ``header`` is a ``Set-Cookie`` line of this cookie."""
        name, value = header
        return name.lower() == "set-cookie" and value.startswith(f"{self.name}=")


def looks_like_session_id(value: str) -> bool:
    return SESSION_ID.fullmatch(value) is not None
