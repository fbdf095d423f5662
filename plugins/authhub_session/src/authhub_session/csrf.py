"""CSRF protection, Django REST framework's rule.

A request authenticated by a session cookie with an unsafe method must
carry the session's CSRF token (``X-CSRF-Token`` header or ``csrf_token``
form field), and its ``Origin`` (or, over HTTPS, its ``Referer``) must be
the request's own origin or a trusted one.

Tokens handed to pages are *masked*: a fresh random mask and the secret
XOR the mask, so the bytes on a page change on every response while the
secret does not (BREACH: a compressed page must not repeat a secret).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from authhub import PermissionDenied, Request

HEADER = "x-csrf-token"
FORM_FIELD = "csrf_token"
SECRET_BYTES = 32
_DEFAULT_PORTS = {"http": 80, "https": 443}


def new_secret() -> str:
    """A new CSRF secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return _encode(secrets.token_bytes(SECRET_BYTES))


def mask(secret: str) -> str:
    """A token for ``secret`` that differs on every call (86 characters)."""
    raw = _decode(secret)
    pad = secrets.token_bytes(len(raw))
    return _encode(pad + _xor(raw, pad))


def matches(token: str, secret: str) -> bool:
    """Whether ``token`` (as :func:`mask` makes it) carries ``secret``, in constant time."""
    try:
        raw = _decode(token)
    except ValueError:
        return False
    if len(raw) != 2 * SECRET_BYTES:
        return False
    pad, masked = raw[:SECRET_BYTES], raw[SECRET_BYTES:]
    return hmac.compare_digest(_xor(masked, pad), _decode(secret))


def _xor(data: bytes, pad: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(len(data), "big")


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError("not URL-safe base64") from None


def submitted_token(request: Request) -> str | None:
    """The token the request carries: the header first, else the form field."""
    values = request.headers.get_all(HEADER)
    if values:
        return values[0]
    return request.form().get(FORM_FIELD)


def check_token(request: Request, secret: str) -> None:
    """Refuse ``request`` unless it carries a token for ``secret``."""
    token = submitted_token(request)
    if not token:
        raise PermissionDenied("CSRF Failed: CSRF token missing.")
    if not matches(token, secret):
        raise PermissionDenied("CSRF Failed: CSRF token incorrect.")


def check_origin(request: Request, trusted_origins: Iterable[str]) -> None:
    """Refuse ``request`` when its ``Origin`` (or, over HTTPS, ``Referer``) is another site's."""
    allowed = {normalize_origin(request.origin), *(normalize_origin(origin) for origin in trusted_origins)}
    allowed.discard("")  # 'Origin: null' and garbage never match
    origins = request.headers.get_all("origin")
    if origins:
        origin = origins[0]
        if normalize_origin(origin) not in allowed:
            raise PermissionDenied(f"CSRF Failed: Origin checking failed - {_shown(origin)} does not match "
                                   "any trusted origins.")
        return
    referers = request.headers.get_all("referer")
    if not request.is_secure or not referers:
        return
    referer = urlsplit(referers[0])
    if not referer.scheme or not referer.netloc:
        raise PermissionDenied("CSRF Failed: Referer checking failed - Referer is malformed.")
    if referer.scheme != "https":
        raise PermissionDenied("CSRF Failed: Referer checking failed - Referer is insecure while host is secure.")
    if normalize_origin(f"{referer.scheme}://{referer.netloc}") not in allowed:
        raise PermissionDenied(
            f"CSRF Failed: Referer checking failed - {_shown(referers[0])} does not match any trusted origins."
        )


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased, without a default port; ``""`` when it is none."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _shown(value: str) -> str:
    # An attacker chooses this text; keep the message short and printable.
    text = value[:200]
    return text if text.isprintable() else repr(text)
