"""``/account/tokens``: the self-service page where a signed-in user creates, sees and revokes tokens.

The page is for a browser with a session (the session scheme): every form
carries the session's CSRF token, which that scheme checks on each post.
A visitor without one is sent to ``/login?next=/account/tokens``. A new
key appears once, on the answer to the form that made it. Nothing secret
ever goes into a URL, and everything a user typed is escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import html
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

STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}"
    "main{max-width:48rem;margin:0 auto;padding:1rem}"
    "h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}"
    "label{display:block;font-weight:600}"
    "input,select,button{font:inherit;padding:.4rem .6rem;max-width:100%;box-sizing:border-box}"
    "input[type=text]{width:100%}"
    "button{cursor:pointer}"
    ".error{color:#8a1010;background:#fde8e8;padding:.5rem .75rem;border-left:4px solid #8a1010}"
    ".notice{background:#e8f4fd;padding:.5rem .75rem;border-left:4px solid #0b5394}"
    ".key{background:#fff8e1;padding:.75rem;border:2px solid #b8860b}"
    ".key input{width:100%;font-family:ui-monospace,monospace}"
    ".hint{font-weight:400;color:#555}"
    ".table{overflow-x:auto;position:relative}table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd;vertical-align:top}"
    # a phone: each token a card, each value with its column's name
    "@media (max-width:40rem){thead{display:none}table,tbody,tr,th,td{display:block}"
    "tr{border:1px solid #ddd;margin-bottom:.75rem;padding:.5rem}th,td{border:0;padding:.15rem 0}"
    "td[data-label]::before{content:attr(data-label) \": \";font-weight:600}}"
    ".sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
#: The page holds a key and CSRF tokens: never cached, never framed, its one stylesheet allowed by hash.
#: Its referrer stays on the site (not no-referrer): a browser then sends the site's own Origin with
#: the forms, which the session scheme's CSRF check needs.
PAGE_HEADERS = (
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)


def routes(scheme: TokenScheme) -> list[authhub.Route]:
    return [
        authhub.Route(PATH, functools.partial(page, scheme), ("GET", "HEAD", "POST")),
        authhub.Route(REVOKE_PATH, functools.partial(revoke, scheme), ("POST",)),
    ]


def page(scheme: TokenScheme, request: authhub.Request) -> authhub.Response:
    """The list and the form (``GET``); a new token from the form (``POST``)."""
    csrf = _session_csrf_token(request)
    if csrf is None:
        return _to_login()
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
        return _to_login()
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


def _to_login() -> authhub.Response:
    return authhub.Response.redirect(f"{LOGIN_URL}?next={quote(PATH)}", 303, PAGE_HEADERS)


def _render(scheme: TokenScheme, request: authhub.Request, csrf: str, *, new: NewToken | None = None,
            error: str | None = None, notice: str | None = None, status: int = 200,
            chosen: dict[str, str] | None = None) -> authhub.Response:
    user = request.identity.user
    records = list_live_tokens(scheme.hub, user.username)
    chosen = chosen or {}
    parts = [
        "<h1>API tokens</h1>",
        f'<p>Signed in as <strong id="username">{_e(getattr(user, "username", user))}</strong>. '
        f"A token acts as you: send it as <code>Authorization: {_e(scheme.keyword)} &lt;key&gt;</code>.</p>",
    ]
    if error is not None:
        parts.append(f'<p class="error" role="alert" id="error">{_e(error)}</p>')
    if notice is not None:
        parts.append(f'<p class="notice" role="status" id="notice">{_e(notice)}</p>')
    if new is not None:
        parts.append(_new_key(new))
    parts.append(_create_form(scheme, csrf, chosen))
    parts.append(_token_table(records, csrf))
    return _page("API tokens", "".join(parts), status)


def _new_key(new: NewToken) -> str:
    return (
        '<section class="key" aria-labelledby="new-key-title">'
        f'<h2 id="new-key-title">New token “{_e(new.token.name or DEFAULT_NAME)}”</h2>'
        '<p role="alert"><strong>Copy this key now: it is shown this once and cannot be shown again.</strong> '
        "Keep it as you would a password.</p>"
        '<label for="new-key">Key</label>'
        f'<input id="new-key" type="text" readonly value="{_e(new.key)}" autocomplete="off" spellcheck="false">'
        "</section>"
    )


def _create_form(scheme: TokenScheme, csrf: str, chosen: dict[str, str]) -> str:
    default = duration_text(default_lifetime(scheme.values))
    picked = chosen.get("expires") or default
    options = "".join(
        f'<option value="{_e(value)}"{" selected" if value == picked else ""}>{_e(_describe(value))}</option>'
        for value in _choices(scheme, default)
    )
    return (
        "<h2>Create a token</h2>"
        f'<form method="post" action="{PATH}">{_hidden(CSRF_FIELD, csrf)}'
        '<p><label for="token-name">Name</label>'
        f'<input id="token-name" name="name" type="text" required maxlength="{MAX_NAME}" '
        f'value="{_e(chosen.get("name", ""))}" autocomplete="off"></p>'
        f'<p><label for="token-expires">Expires after</label><select id="token-expires" name="expires">{options}'
        "</select></p>"
        '<p><label for="token-scopes">Scopes <span class="hint">(optional, separated by spaces)</span></label>'
        f'<input id="token-scopes" name="scopes" type="text" value="{_e(chosen.get("scopes", ""))}" '
        'autocomplete="off"></p>'
        '<p><button type="submit">Create token</button></p></form>'
    )


def _token_table(records: list[TokenRecord], csrf: str) -> str:
    if not records:
        return '<h2>Your tokens</h2><p id="no-tokens">You have no tokens.</p>'
    rows = "".join(
        f'<tr data-token-id="{_e(record.id)}"><th scope="row">{_e(record.name or DEFAULT_NAME)}</th>'
        f'<td data-label="Scopes">{_e(" ".join(sorted(record.scopes))) or "all of yours"}</td>'
        f'<td data-label="Created">{_time(record.created_at, "-")}</td>'
        f'<td data-label="Last used">{_time(record.last_used_at, "not yet")}</td>'
        f'<td data-label="Expires">{_time(record.expires_at, "never")}</td>'
        f'<td><form method="post" action="{REVOKE_PATH}">{_hidden(CSRF_FIELD, csrf)}'
        f'{_hidden(TOKEN_FIELD, str(record.id))}'
        f'<button type="submit" aria-label="Revoke token {_e(record.name or DEFAULT_NAME)}">Revoke</button>'
        "</form></td></tr>"
        for record in records
    )
    return (
        '<h2 id="tokens-title">Your tokens</h2><div class="table">'
        '<table id="tokens" aria-labelledby="tokens-title"><thead><tr><th scope="col">Name</th>'
        '<th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Last used</th>'
        '<th scope="col">Expires</th><th scope="col"><span class="sr-only">Revoke</span></th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


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


def _time(value: dt.datetime | None, missing: str) -> str:
    if value is None:
        return _e(missing)
    moment = value.astimezone(dt.timezone.utc)
    return f'<time datetime="{moment.isoformat()}">{moment:%Y-%m-%d %H:%M} UTC</time>'


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'


def _e(value: Any) -> str:
    return html.escape(str(value))


def _page(title: str, body: str, status: int) -> authhub.Response:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} - authhub</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return authhub.Response.html(text, status, PAGE_HEADERS)
