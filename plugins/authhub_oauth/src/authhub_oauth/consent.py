"""The consent page of ``/oauth/authorize``: this package's template ``consent.html``.

It names the client, the signed-in user (with "Not you? Log out", which
comes back to the same authorization request), each scope as the
``scope_descriptions`` setting words it (else by its name) and where the
browser will be sent. An application's ``templates_dir`` may replace it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from authhub import Request, Response
from authhub_oauth.server import OAuthServer

PACKAGE = "authhub_oauth"
#: The session scheme's form field for its CSRF token.
CSRF_FIELD = "csrf_token"


@attrs.frozen
class Scope:
    """A scope as the consent page shows it."""

    name: str
    description: str | None


def describe(scope: str, descriptions: Mapping[str, str]) -> Scope:
    return Scope(scope, descriptions.get(scope) or None)


def consent_page(server: OAuthServer, request: Request, grant: Any, *, csrf_token: str | None,
                 binding_field: str, binding: str | None) -> Response:
    """The page asking the signed-in user to allow or deny ``grant``'s authorization request.

    :param csrf_token: the session's CSRF token for the forms (``None`` without a session).
    :param binding: the value that ties the form to this authorization request (``None`` without a session).
    """
    user = request.identity.user
    descriptions = server.settings["scope_descriptions"]
    redirect_uri: str | None = grant.redirect_uri
    context = {
        "title": f"Authorize {grant.client.name}",
        "client_name": grant.client.name,
        "username": str(getattr(user, "username", user)),
        "scopes": [describe(scope, descriptions) for scope in (grant.request.scope or "").split()],
        "redirect_uri": redirect_uri or "",
        "action": request.path + (f"?{request.query_string}" if request.query_string else ""),
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token,
        "binding_field": binding_field,
        "binding": binding,
        "logout_url": server.settings["logout_url"],
    }
    # The answer to the form is a redirect to the client: the form's CSP must allow where it goes.
    return server.hub.pages.render("consent.html", context, package=PACKAGE,
                                   form_targets=[redirect_uri] if redirect_uri else [])
