"""The Python API for applications: create, list and revoke tokens.

Every function takes the hub, applies the same rules as the command line
(``authhub tokens ...``, which calls these) and raises :class:`TokenError`
with a readable message, changing nothing, when a request cannot be done.
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from collections.abc import Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from authhub.users import UserRecord, username_candidates
from authhub_token.models import MAX_NAME, MAX_SCOPES, BaseToken
from authhub_token.registry import authenticator_for, forget_everywhere, scheme_name
from authhub_token.values import NO_EXTRA, NO_SCOPES, NewToken, TokenRecord, aware

if TYPE_CHECKING:
    from authhub import AuthHub
    from authhub_token.authenticator import TokenAuthenticator


class TokenError(ValueError):
    """A token request that cannot be done (unknown user or token, limit reached, bad value)."""


class Default(enum.Enum):
    """The ``lifetime`` setting's value, for ``expires_in``."""

    LIFETIME = "lifetime"


LIFETIME = Default.LIFETIME


def create_token(
    hub: AuthHub,
    username: str,
    *,
    name: str = "default",
    expires_in: dt.timedelta | Default | None = LIFETIME,
    scopes: Iterable[str] = (),
    **fields: Any,
) -> NewToken:
    """Create a token for ``username`` and return it with its key (shown this once).

    :param name: a label for the token; a user may hold several.
    :param expires_in: how long it lives; ``None`` for ever; by default the
        ``lifetime`` setting.
    :param scopes: scope names the application can read from ``request.auth.scopes``.
    :param fields: values for the extra columns of a custom token model.
    """
    authenticator = _authenticator(hub)
    lookup = authenticator.lookup
    model = lookup.model
    values: dict[str, Any] = dict(fields)
    unknown = sorted(set(values) - set(lookup.extra_names))
    if unknown:
        raise TokenError(f"token model {model.__name__} has no column(s) {', '.join(unknown)}")
    moment = dt.datetime.now(dt.timezone.utc)
    if expires_in is LIFETIME:
        expires_in = authenticator.settings.lifetime
    _need(lookup.has, "name", name != "default", model)
    _need(lookup.has, "scopes", bool(scopes), model)
    _need(lookup.has, "expires_at", expires_in is not None, model)
    if lookup.has["name"]:
        values["name"] = _check_name(name)
    if lookup.has["scopes"]:
        values["scopes"] = _check_scopes(scopes)
    if lookup.has["expires_at"]:
        if expires_in is not None and expires_in <= dt.timedelta(0):
            raise TokenError("a token's lifetime must be positive")
        try:
            values["expires_at"] = moment + expires_in if expires_in is not None else None
        except OverflowError:
            raise TokenError("a token's lifetime must end before the year 9999; use 'never' instead") from None
    if "created_at" in lookup.table.c:
        values["created_at"] = moment
    with hub.store.session() as session:
        # Locking the user row makes the per-user limit hold against concurrent creations.
        user = None
        for name in username_candidates(username):  # 'Alice' is the user 'alice' (RFC 8265)
            user = session.scalar(sa.select(UserRecord).where(UserRecord.username == name).with_for_update())
            if user is not None:
                break
        if user is None:
            raise TokenError(f"no user named {username!r}")
        limit = authenticator.settings.max_per_user
        if limit is not None and _active_count(session, model, lookup.has, user.id, moment) >= limit:
            raise TokenError(f"user {username!r} already has {limit} active tokens, the limit "
                             "(token.max_per_user); revoke one first")
        token = model(user_id=user.id, **values)
        session.add(token)
        session.flush()
        record = _record(token, user.username, lookup.extra_names)
        key = token.key
    assert key is not None
    return NewToken(key, record)


def list_tokens(hub: AuthHub, username: str | None = None) -> list[TokenRecord]:
    """Every token (of ``username`` when given), oldest first, without keys."""
    lookup = _authenticator(hub).lookup
    model = lookup.model
    with hub.store.session() as session:
        query = sa.select(model, UserRecord.username).join(UserRecord, model.user_id == UserRecord.id)
        if username is not None:
            user_id = _user_id(session, username)
            query = query.where(model.user_id == user_id)
        query = query.order_by(lookup.id_column)
        return [_record(token, name, lookup.extra_names) for token, name in session.execute(query)]


def revoke_token(hub: AuthHub, token_id: Any) -> bool:
    """Revoke one token; ``False`` when it already was. Unknown id: :class:`TokenError`."""
    lookup = _authenticator(hub).lookup
    with hub.store.session() as session:
        token = session.get(lookup.model, token_id)
        if token is None:
            raise TokenError(f"no token with id {token_id!r}")
        was_live = not token.revoked
        token.revoked = True
    forget_everywhere(token_ids=frozenset([token_id]))
    return was_live


def revoke_user_tokens(hub: AuthHub, username: str) -> int:
    """Revoke every token of ``username``; returns how many were still live."""
    model = _authenticator(hub).lookup.model
    with hub.store.session() as session:
        user_id = _user_id(session, username)
        result = session.execute(
            sa.update(model).where(model.user_id == user_id, model.revoked.is_(sa.false())).values(revoked=True),
            execution_options={"synchronize_session": False},
        )
        count = int(getattr(result, "rowcount", 0))
    forget_everywhere(user_id=user_id)
    return count


# -- internals -------------------------------------------------------------------


def _authenticator(hub: AuthHub) -> TokenAuthenticator:
    return authenticator_for(hub, hub.settings.section(scheme_name(hub)))


def _need(has: dict[str, bool], column: str, wanted: bool, model: type) -> None:
    if wanted and not has[column]:
        raise TokenError(f"token model {model.__name__} has no {column!r} column")


def _user_id(session: Session, username: str) -> int:
    user_id = None
    for name in username_candidates(username):
        user_id = session.scalar(sa.select(UserRecord.id).where(UserRecord.username == name))
        if user_id is not None:
            break
    if user_id is None:
        raise TokenError(f"no user named {username!r}")
    return user_id


def _active_count(session: Session, model: type[BaseToken], has: dict[str, bool], user_id: int,
                  moment: dt.datetime) -> int:
    query = sa.select(sa.func.count()).select_from(model).where(
        model.user_id == user_id, model.revoked.is_(sa.false()))
    if has["expires_at"]:
        expires_at = model.__table__.c.expires_at
        query = query.where(sa.or_(expires_at.is_(None), expires_at > moment))
    return int(session.scalar(query) or 0)


def _check_name(name: str) -> str:
    if not name or not name.strip():
        raise TokenError("a token name must not be empty")
    if len(name) > MAX_NAME:
        raise TokenError(f"a token name is at most {MAX_NAME} characters")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise TokenError("a token name must not contain control characters")
    return name


def _check_scopes(scopes: Iterable[str]) -> str:
    if isinstance(scopes, str):
        raise TokenError("scopes must be a list of names, not one string")
    names = sorted(set(scopes))
    for scope in names:
        if not scope or not scope.isprintable() or any(char.isspace() for char in scope):
            raise TokenError(f"scope {scope!r} must be a non-empty name without spaces")
    text = " ".join(names)
    if len(text) > MAX_SCOPES:
        raise TokenError(f"scopes take at most {MAX_SCOPES} characters together")
    return text


def _record(token: Any, username: str, extra_names: tuple[str, ...]) -> TokenRecord:
    def column(name: str) -> Any:
        return getattr(token, name) if name in token.__table__.c else None

    scopes = column("scopes")
    return TokenRecord(
        id=token.__mapper__.primary_key_from_instance(token)[0],
        user_id=token.user_id,
        username=username,
        name=column("name"),
        scopes=frozenset(scopes.split()) if scopes else NO_SCOPES,
        created_at=aware(column("created_at")),
        last_used_at=aware(column("last_used_at")),
        expires_at=aware(column("expires_at")),
        revoked=bool(token.revoked),
        extra=MappingProxyType({name: getattr(token, name) for name in extra_names}) if extra_names else NO_EXTRA,
    )
