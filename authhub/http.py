"""Responses, and how an authhub error becomes one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import attrs

from authhub.errors import AuthhubError

if TYPE_CHECKING:
    from authhub.hub import AuthHub
    from authhub.request import Request

def reason(status: int) -> str:
    """The reason phrase of ``status`` (``"Unauthorized"``), as :mod:`http` knows it."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@attrs.define
class Response:
    """A complete HTTP response: status, header lines (repeats allowed), body."""

    status: int = 200
    headers: list[tuple[str, str]] = attrs.Factory(list)
    body: bytes = b""

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
        return cls(
            status, [("Content-Type", "application/json"), *headers], json.dumps(data, separators=(",", ":")).encode()
        )

    @classmethod
    def html(cls, text: str, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
        return cls(status, [("Content-Type", "text/html; charset=utf-8"), *headers], text.encode())

    @classmethod
    def redirect(cls, location: str, status: int = 303, headers: Iterable[tuple[str, str]] = ()) -> Response:
        return cls(status, [("Location", location), *headers])

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), for tests and adapters."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    @property
    def status_line(self) -> str:
        return f"{self.status} {reason(self.status)}"


def error_response(hub: AuthHub, request: Request, error: AuthhubError, schemes: list[str] | None = None) -> Response:
    """The response for ``error``: JSON ``{"detail": ...}`` with its status.

    A 401 carries one ``WWW-Authenticate`` line per scheme of the request's
    chain that has a challenge, in chain order; when none has one the
    refusal becomes 403, as in Django REST framework.
    """
    status = error.status_code
    headers = list(error.headers.items())
    if status == 401:
        challenges = hub.challenges(request, error, schemes)
        if challenges:
            headers.extend(("WWW-Authenticate", challenge) for challenge in challenges)
        else:
            status = 403
    return Response.json({"detail": error.detail}, status, headers)
