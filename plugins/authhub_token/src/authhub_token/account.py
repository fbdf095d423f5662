"""``/account/tokens``: the self-service page where a signed-in user creates, sees and revokes tokens.

The page is for a browser with a session (the session scheme): every form
carries the session's CSRF token, which that scheme checks on each post.
A visitor without one is sent to ``/login?next=/account/tokens``. A new
key appears once, on the answer to the form that made it. Nothing secret
ever goes into a URL, and everything a user typed is escaped. The page is
this package's template ``tokens.html`` (``hub.pages``: an application's
``templates_dir`` may replace it).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from urllib.parse import quote

import authhub
from authhub_token.api import list_live_tokens, revoke_user_token
from authhub_token.issuing import DEFAULT_NAME, creator, default_lifetime, duration_text, issue, read_options
from authhub_token.models import MAX_NAME
from authhub_token.scheme import TokenScheme
from authhub_token.settings import parse_duration
from authhub_token.values import NewToken, TokenRecord

PATH = "/account/tokens"
REVOKE_PATH = "/account/tokens/revoke"
LOGIN_URL = "/login"
CSRF_FIELD = "csrf_token"
#: The revoke form's field naming the token (not ``id``, which would hide the form's own ``id`` from scripts).
TOKEN_FIELD = "token_id"  # noqa: S105 - a form field's name, not a credential
#: What the expiry menu offers, as far as ``max_lifetime`` allows.
CHOICES = ("1d", "7d", "30d", "90d", "365d", "never")
_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}

PACKAGE = "authhub_token"


def routes(scheme: TokenScheme) -> list[authhub.Route]:
    return [
        authhub.Route(PATH, functools.partial(page, scheme), ("GET", "HEAD", "POST")),
        authhub.Route(REVOKE_PATH, functools.partial(revoke, scheme), ("POST",)),
    ]


def page(scheme: TokenScheme, request: authhub.Request) -> authhub.Response:
    """The list and the form (``GET``); a new token from the form (``POST``)."""
    csrf = _session_csrf_token(request)
    if csrf is None:
        return _to_login(scheme)
    if request.method != "POST":
        return _render(scheme, request, csrf)
    form = request.form()
    chosen = {"name": form.get("name", ""), "expires": form.get("expires", ""), "scopes": form.get("scopes", "")}
    try:
        user = creator(scheme, request)
        options = read_options(scheme.values, {
            "name": chosen["name"], "expires": chosen["expires"] or None, "scopes": chosen["scopes"].split(),
        })
        new = issue(scheme, user, options)
    except (authhub.BadRequest, authhub.PermissionDenied) as error:
        return _render(scheme, request, csrf, error=error.detail, status=error.status_code, chosen=chosen)
    return _render(scheme, request, csrf, new=new, status=201)


def revoke(scheme: TokenScheme, request: authhub.Request) -> authhub.Response:
    """Revoke the token the form names; the page again, saying what happened."""
    csrf = _session_csrf_token(request)
    if csrf is None:
        return _to_login(scheme)
    user = request.identity.user
    token_id = request.form().get(TOKEN_FIELD, "")
    names = {str(record.id): record.name for record in list_live_tokens(scheme.hub, user.username)}
    if token_id not in names or not revoke_user_token(scheme.hub, user.username, token_id):
        return _render(scheme, request, csrf, error="No such token: it may have been revoked already.", status=404)
    return _render(scheme, request, csrf, notice=f"Token “{names[token_id] or token_id}” revoked.")


# -- helpers --------------------------------------------------------------------------------


def _session_csrf_token(request: authhub.Request) -> str | None:
    """The session's CSRF token when a session signed this request in; ``None`` otherwise.

    Only the session scheme can mask its token, and a plugin depends on no
    sibling: with authhub-session absent there is no session, so no page.
    """
    if not request.identity.is_authenticated:
        return None
    try:
        from authhub_session import csrf_token
    except ImportError:
        return None
    token: str | None = csrf_token(request)
    return token


def _to_login(scheme: TokenScheme) -> authhub.Response:
    return scheme.hub.pages.redirect(f"{LOGIN_URL}?next={quote(PATH)}")


def _render(scheme: TokenScheme, request: authhub.Request, csrf: str, *, new: NewToken | None = None,
            error: str | None = None, notice: str | None = None, status: int = 200,
            chosen: dict[str, str] | None = None) -> authhub.Response:
    user = request.identity.user
    chosen = {"name": "", "scopes": "", **(chosen or {})}
    default = duration_text(default_lifetime(scheme.values))
    picked = chosen.get("expires") or default
    context = {
        "title": "API tokens",
        "username": str(getattr(user, "username", user)),
        "keyword": scheme.keyword,
        "error": error,
        "notice": notice,
        "new": None if new is None else {"name": new.token.name or DEFAULT_NAME, "key": new.key},
        "chosen": chosen,
        "expiry_choices": [{"value": value, "label": _describe(value), "selected": value == picked}
                           for value in _choices(scheme, default)],
        "tokens": [_row(record) for record in list_live_tokens(scheme.hub, user.username)],
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf,
        "token_field": TOKEN_FIELD,
        "path": PATH,
        "revoke_path": REVOKE_PATH,
        "max_name": MAX_NAME,
    }
    return scheme.hub.pages.render("tokens.html", context, package=PACKAGE, status=status)


def _row(record: TokenRecord) -> dict[str, Any]:
    """A token as the page lists it: times in UTC, an empty scope set as "all of yours"."""
    return {
        "id": record.id,
        "name": record.name or DEFAULT_NAME,
        "scopes": " ".join(sorted(record.scopes)) or "all of yours",
        "created": _utc(record.created_at),
        "last_used": _utc(record.last_used_at),
        "expires": _utc(record.expires_at),
    }


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.timezone.utc)


def _choices(scheme: TokenScheme, default: str) -> list[str]:
    """The expiry menu: the usual lifetimes within ``max_lifetime``, and the default among them."""
    bound = scheme.values.max_lifetime
    allowed = [value for value in CHOICES if bound is None or _fits(value, bound)]
    if default not in allowed:
        allowed.append(default)
        allowed.sort(key=_order)
    return allowed


def _fits(value: str, bound: dt.timedelta) -> bool:
    lifetime = parse_duration(value)
    return lifetime is not None and lifetime <= bound


def _order(value: str) -> float:
    lifetime = parse_duration(value)
    return lifetime.total_seconds() if lifetime is not None else float("inf")


def _describe(value: str) -> str:
    """``30d`` -> ``30 days``; ``never`` stays."""
    if parse_duration(value) is None:
        return "never"
    count, unit = int(value[:-1]), value[-1]
    return f"{count} {_WORDS[unit]}{'' if count == 1 else 's'}"
