"""The token endpoints of ``authhub serve`` (``serve_routes``), as knox and DRF users know them.

- ``POST /tokens``: a new token for the caller (signed in with Basic or a session,
  never a token): 201 with its key, shown this once; options ``name``,
  ``expires`` and ``scopes``;
- ``GET /tokens``: the caller's live tokens, never a key or a digest;
- ``DELETE /tokens/{id}``: revoke one of the caller's tokens (204), 404 for any other id;
- ``POST /tokens/logout``: revoke the token this request came with (204);
- ``POST /tokens/logout-all``: revoke every token of the caller (200, ``{"revoked": n}``).

The self-service page (:mod:`authhub_token.account`) comes with them.
Revocations go through the plugin's API, which announces them on the
invalidation channel.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

import authhub
from authhub_token import account
from authhub_token.api import list_live_tokens, revoke_token, revoke_user_token, revoke_user_tokens
from authhub_token.issuing import creator, issue, read_options
from authhub_token.scheme import TokenScheme
from authhub_token.values import TokenInfo, TokenRecord

#: Token lists and keys are the caller's alone: no cache keeps them.
PRIVATE = (("Cache-Control", "no-store"),)
FORM = "application/x-www-form-urlencoded"
#: The session scheme's CSRF field travels with a form; it is not an option of the token.
CSRF_FIELD = "csrf_token"


def routes(scheme: TokenScheme) -> list[authhub.Route]:
    """The endpoints and the account page of one hub's token scheme."""
    return [
        authhub.Route("/tokens", functools.partial(tokens, scheme), ("GET", "HEAD", "POST")),
        authhub.Route("/tokens/logout", functools.partial(logout, scheme), ("POST",)),
        authhub.Route("/tokens/logout-all", functools.partial(logout_all, scheme), ("POST",)),
        authhub.Route("/tokens/{id}", functools.partial(revoke, scheme), ("DELETE",)),
        *account.routes(scheme),
    ]


def tokens(scheme: TokenScheme, request: authhub.Request) -> authhub.Response:
    if request.method == "POST":
        return create(scheme, request)
    user = _caller(request)
    records = list_live_tokens(scheme.hub, user.username)
    return authhub.Response.json([token_json(record) for record in records], headers=PRIVATE)


def create(scheme: TokenScheme, request: authhub.Request) -> authhub.Response:
    user = creator(scheme, request)  # who asks comes first: an anonymous caller learns nothing of the options
    new = issue(scheme, user, read_options(scheme.values, _fields(request)))
    return authhub.Response.json({"key": new.key, **token_json(new.token)}, 201, PRIVATE)


def revoke(scheme: TokenScheme, request: authhub.Request) -> authhub.Response:
    user = _caller(request)
    token_id = request.state["path_params"]["id"]
    if not revoke_user_token(scheme.hub, user.username, token_id):
        # Unknown, someone else's or revoked already: the same answer, so ids reveal nothing.
        raise authhub.AuthhubError("Not found.", status_code=404)
    return authhub.Response(204, list(PRIVATE))


def logout(scheme: TokenScheme, request: authhub.Request) -> authhub.Response:
    _caller(request)
    auth = request.auth
    if request.auth_scheme != scheme.name or not isinstance(auth, TokenInfo):
        raise authhub.BadRequest(
            f"This request was not authenticated with a token: send the one to revoke as "
            f"'Authorization: {scheme.keyword} <key>'."
        )
    revoke_token(scheme.hub, auth.id)
    return authhub.Response(204, list(PRIVATE))


def logout_all(scheme: TokenScheme, request: authhub.Request) -> authhub.Response:
    user = _caller(request)
    count = revoke_user_tokens(scheme.hub, user.username)
    return authhub.Response.json({"revoked": count}, headers=PRIVATE)


# -- answers ---------------------------------------------------------------------------


def token_json(record: TokenRecord) -> dict[str, Any]:
    """What a client may see of a token: never its key or digest."""
    def when(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": record.id, "name": record.name, "scopes": sorted(record.scopes),
        "created_at": when(record.created_at), "last_used_at": when(record.last_used_at),
        "expires_at": when(record.expires_at),
    }


# -- requests ---------------------------------------------------------------------------


def _caller(request: authhub.Request) -> Any:
    """The authenticated user, whichever scheme answered; 401 with the challenges otherwise."""
    identity = request.identity
    if not identity.is_authenticated:
        raise authhub.NotAuthenticated()
    return identity.user


def _fields(request: authhub.Request) -> dict[str, Any]:
    """The options of ``POST /tokens``: a JSON object, a form (``scopes`` separated by spaces) or nothing."""
    content_types = request.headers.get_all("content-type")
    content_type = content_types[0].split(";")[0].strip().lower() if content_types else ""
    if content_type == FORM:
        fields: dict[str, Any] = dict(request.form())
        fields.pop(CSRF_FIELD, None)
        if "scopes" in fields:
            fields["scopes"] = fields["scopes"].split()
        return fields
    body = request.body()
    if content_type == "application/json" or (content_type.startswith("application/") and
                                               content_type.endswith("+json")):
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than anyone means
            raise authhub.BadRequest("The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise authhub.BadRequest('The body must be a JSON object, such as {"name": "ci", "expires": "30d"}.')
        return data
    if not body:
        return {}
    raise authhub.AuthhubError(f"Send the options as JSON (application/json) or as a form ({FORM}).",
                               status_code=415)
