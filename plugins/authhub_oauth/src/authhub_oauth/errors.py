"""RFC 6750 §3 errors, as authhub errors that carry their ``WWW-Authenticate`` attributes."""

from __future__ import annotations

from collections.abc import Iterable

from authhub import AuthenticationFailed, BadRequest, PermissionDenied


def bearer_challenge(
    realm: str, error: str | None = None, description: str | None = None, scope: str | None = None
) -> str:
    """``Bearer realm="..."`` plus the RFC 6750 §3 attributes that are given.

    With no ``error`` it is the bare challenge RFC 6750 §3.1 asks for when
    the request had no credentials at all.
    """
    attributes = [f"realm={_quoted(realm)}"]
    if error is not None:
        attributes.append(f"error={_quoted(error)}")
    if description is not None:
        attributes.append(f"error_description={_quoted(description)}")
    if scope is not None:
        attributes.append(f"scope={_quoted(scope)}")
    return "Bearer " + ", ".join(attributes)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InvalidToken(AuthenticationFailed):
    """The bearer token is unknown, expired, revoked or otherwise bad: 401 ``invalid_token``.

    The ``challenge`` hook turns it into ``error="invalid_token"`` with the
    detail as ``error_description``.
    """

    default_detail = "The access token is invalid."


class InvalidBearerRequest(BadRequest):
    """A malformed bearer request: 400 ``invalid_request`` (RFC 6750 §3.1)."""

    def __init__(self, detail: str, realm: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": bearer_challenge(realm, "invalid_request", detail)})


class InsufficientScope(PermissionDenied):
    """The token lacks a scope the view needs: 403 ``insufficient_scope`` with ``scope="..."``."""

    def __init__(self, scopes: Iterable[str], realm: str) -> None:
        needed = " ".join(scopes)
        detail = "The access token does not grant the scope this request needs."
        super().__init__(
            detail,
            headers={"WWW-Authenticate": bearer_challenge(realm, "insufficient_scope", detail, needed)},
        )
        self.scopes = needed
