"""What a bearer token gives the application: ``request.auth`` and, for client tokens, ``request.user``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs


@attrs.frozen
class AccessToken:
    """The access token a request carried, as ``request.auth``.

    It never holds the token itself. ``user`` is ``None`` for a
    client-credentials token (the client acts for itself).
    """

    scopes: frozenset[str]
    client_id: str | None
    expires_at: dt.datetime | None
    user: Any = None
    #: Where the token was checked: ``"opaque"``, ``"jwt"`` or ``"introspection"``.
    source: str = "opaque"
    #: RFC 7638 thumbprint of the DPoP key the token is bound to (RFC 9449 ``cnf.jkt``); ``None``: a bearer token.
    jkt: str | None = None
    #: The ``jti`` of a JWT access token issued here (what its revocation names); ``None`` otherwise.
    jti: str | None = None

    def has_scopes(self, *scopes: str) -> bool:
        """Whether the token grants every scope in ``scopes``."""
        return set(scopes) <= self.scopes


@attrs.frozen
class ClientPrincipal:
    """``request.user`` for a client-credentials token: the client itself.

    ``username`` is ``client:<client_id>``; a user name can never contain a
    colon, so it never collides with a real user's.
    """

    client_id: str
    is_active: bool = attrs.field(default=True, init=False)
    id: None = attrs.field(default=None, init=False)

    @property
    def username(self) -> str:
        return f"client:{self.client_id}"

    @property
    def is_authenticated(self) -> bool:
        return True
