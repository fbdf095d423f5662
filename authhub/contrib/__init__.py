"""Adapters that put authhub's chain into the web frameworks people already use.

Each submodule imports its framework, so import only the one you need:

- :mod:`authhub.contrib.flask` - ``FlaskAuth(app)``, ``current_user``, ``@login_required``, ``hub_blueprint``
- :mod:`authhub.contrib.django` - the application keeping the hub, ``AuthhubMiddleware`` setting
  ``request.user``, ``include("authhub.contrib.django.urls")``
- :mod:`authhub.contrib.drf` - ``AuthhubAuthentication`` for Django REST framework
- :mod:`authhub.contrib.starlette` - ``AuthhubMiddleware`` feeding ``request.user``/``request.auth``,
  ``challenge_anonymous``, ``hub_routes``
- :mod:`authhub.contrib.fastapi` - ``FastAPIAuth`` dependencies shown in the OpenAPI document, ``hub_router``

Each gives the chain's user the shape its framework's code expects (a
:class:`authhub.contrib.users.UserProxy` around the store's user) and
mounts the hub's plugin routes (:mod:`authhub.contrib.routes`).

This module only holds what the adapters share and imports no framework.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["joined_headers", "scopes_of"]


def scopes_of(auth: Any) -> frozenset[str]:
    """The scopes a scheme's ``auth`` grants: its ``scopes`` or ``scope`` attribute.

    An OAuth access token keeps them as a list or as a space-separated
    string (RFC 6749 section 3.3); anything without them grants none.
    """
    scopes = getattr(auth, "scopes", None)
    if scopes is None:
        scopes = getattr(auth, "scope", None)
    if scopes is None:
        return frozenset()
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    return frozenset(str(scope) for scope in scopes)


def joined_headers(lines: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header lines as a dict, repeated names joined with ``", "``.

    For frameworks whose responses hold one value per header name. RFC 9110
    section 5.3 allows it for list-valued fields such as ``WWW-Authenticate``
    (section 11.6.1: one field may carry several challenges, comma-separated).
    ``Set-Cookie`` cannot be joined; callers set cookies their framework's way.
    """
    joined: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, value in lines:
        key = name.lower()
        if key in names:
            joined[names[key]] = f"{joined[names[key]]}, {value}"
        else:
            names[key] = name
            joined[name] = value
    return joined
