"""The Python API for applications: create, list and revoke tokens.

Every function takes the hub, applies the same rules as the command line
(``authhub tokens ...``, which calls these) and raises :class:`TokenError`
with a readable message, changing nothing, when a request cannot be done.
Users are found by name through ``hub.users``, whichever store keeps them;
the hub's :class:`~authhub_token.TokenScheme` (``hub.find_scheme``) holds
the model and the settings. A revocation is announced with
``hub.invalidate``, so the hub's cache drops the token at once.
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

from authhub_token.models import MAX_NAME, MAX_SCOPES, BaseToken
from authhub_token.scheme import TokenScheme
from authhub_token.values import NO_EXTRA, NO_SCOPES, NewToken, TokenRecord, aware

if TYPE_CHECKING:
    from authhub import AuthHub


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
    """Create a token for ``username`` (as ``hub.users`` knows them) and return it with its key (shown this once).

    :param name: a label for the token; a user may hold several.
    :param expires_in: how long it lives; ``None`` for ever; by default the
        ``lifetime`` setting.
    :param scopes: scope names the application can read from ``request.auth.scopes``.
    :param fields: values for the extra columns of a custom token model.
    """
    scheme = hub.find_scheme(TokenScheme)
    lookup = scheme.lookup
    model = lookup.model
    values: dict[str, Any] = dict(fields)
    unknown = sorted(set(values) - set(lookup.extra_names))
    if unknown:
        raise TokenError(f"token model {model.__name__} has no column(s) {', '.join(unknown)}")
    moment = dt.datetime.now(dt.timezone.utc)
    if expires_in is LIFETIME:
        expires_in = scheme.values.lifetime
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
    user = _user(hub, username)
    user_id = str(user.id)
    limit = scheme.values.max_per_user
    with hub.store.session() as session:
        if limit is not None:
            _lock_user(session, user_id)
        token = model(user_id=user_id, **values)
        session.add(token)
        session.flush()
        # Counted after the insert, under a lock every creation for this user takes (see
        # _lock_user), so concurrent creations cannot pass the limit together.
        if limit is not None and _active_count(session, model, lookup.has, user_id, moment) > limit:
            raise TokenError(f"user {username!r} already has {limit} active tokens, the limit "
                             "(token.max_per_user); revoke one first")
        record = _record(token, user.id, user.username, lookup.extra_names)
        key = token.key
    assert key is not None
    return NewToken(key, record)


def list_tokens(hub: AuthHub, username: str | None = None) -> list[TokenRecord]:
    """Every token (of ``username`` when given), oldest first, without keys."""
    lookup = hub.find_scheme(TokenScheme).lookup
    model = lookup.model
    query = sa.select(model).order_by(lookup.id_column)
    users: dict[str, Any] = {}
    if username is not None:
        user = _user(hub, username)
        users[str(user.id)] = user
        query = query.where(model.user_id == str(user.id))
    with hub.store.session() as session:
        tokens = session.scalars(query).all()
    records = []
    for token in tokens:
        if token.user_id not in users:
            users[token.user_id] = hub.users.get(token.user_id)
        owner = users[token.user_id]
        if owner is None:  # the store no longer knows the user
            records.append(_record(token, token.user_id, None, lookup.extra_names))
        else:
            records.append(_record(token, owner.id, owner.username, lookup.extra_names))
    return records


def list_live_tokens(hub: AuthHub, username: str) -> list[TokenRecord]:
    """The tokens of ``username`` that still work (neither revoked nor expired), oldest first, without keys."""
    now = dt.datetime.now(dt.timezone.utc)
    return [record for record in list_tokens(hub, username)
            if not record.revoked and (record.expires_at is None or record.expires_at > now)]


def revoke_token(hub: AuthHub, token_id: Any) -> bool:
    """Revoke one token; ``False`` when it already was. Unknown id: :class:`TokenError`."""
    model = hub.find_scheme(TokenScheme).lookup.model
    with hub.store.session() as session:
        token = session.get(model, token_id)
        if token is None:
            raise TokenError(f"no token with id {token_id!r}")
        was_live = not token.revoked
        token.revoked = True
        revoked = str(model.__mapper__.primary_key_from_instance(token)[0])
    hub.invalidate("token", revoked)
    return was_live


def revoke_user_token(hub: AuthHub, username: str, token_id: Any) -> bool:
    """Revoke token ``token_id`` if it is a live token of ``username``; ``True`` when it was.

    ``False``, changing nothing, for an unknown id (or text no id can be),
    another user's token and a revoked one alike: an endpoint answering 404
    for all three tells nobody which tokens exist.
    """
    lookup = hub.find_scheme(TokenScheme).lookup
    model = lookup.model
    user_id = str(_user(hub, username).id)
    key = _id_value(lookup.id_column, token_id)
    if key is None:
        return False
    try:
        with hub.store.session() as session:
            result = session.execute(
                sa.update(model)
                .where(lookup.id_column == key, model.user_id == user_id, model.revoked.is_(sa.false()))
                .values(revoked=True),
                execution_options={"synchronize_session": False},
            )
            count = int(getattr(result, "rowcount", 0))
    except sa.exc.DataError:  # a number the column cannot hold (PostgreSQL checks the range)
        return False
    if count:
        hub.invalidate("token", str(key))
    return count > 0


def revoke_user_tokens(hub: AuthHub, username: str) -> int:
    """Revoke every token of ``username``; returns how many were still live."""
    model = hub.find_scheme(TokenScheme).lookup.model
    user_id = str(_user(hub, username).id)
    with hub.store.session() as session:
        result = session.execute(
            sa.update(model).where(model.user_id == user_id, model.revoked.is_(sa.false())).values(revoked=True),
            execution_options={"synchronize_session": False},
        )
        count = int(getattr(result, "rowcount", 0))
    hub.invalidate("user", user_id)
    return count


# -- internals -------------------------------------------------------------------


def _user(hub: AuthHub, username: str) -> Any:
    """The user named ``username`` in the hub's user store, whichever it is."""
    user = hub.users.get_by_username(username)
    if user is None:
        raise TokenError(f"no user named {username!r}")
    return user


def _id_value(column: sa.Column[Any], token_id: Any) -> Any:
    """``token_id`` as the id column holds it (text from a URL becomes an integer); ``None`` when it cannot be one."""
    if not isinstance(token_id, str):
        return token_id
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return token_id
    if kind is int:
        if not (token_id.isascii() and token_id.isdigit() and len(token_id) <= 19):
            return None
        number = int(token_id)
        return number if number < 2**63 else None  # what SQL databases can compare at all
    return token_id


def _lock_user(session: Session, user_id: str) -> None:
    """Serialise token creations for one user until the transaction ends.

    The user may live in any store, so there is no row of ours to lock.
    PostgreSQL takes a transaction-scoped advisory lock named after the user;
    SQLite lets one writer in at a time, from its first write (the insert)
    to its commit, which serialises the count after the insert just as well.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"authhub_token:{user_id}"))))


def _need(has: dict[str, bool], column: str, wanted: bool, model: type) -> None:
    if wanted and not has[column]:
        raise TokenError(f"token model {model.__name__} has no {column!r} column")


def _active_count(session: Session, model: type[BaseToken], has: dict[str, bool], user_id: str,
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


def _record(token: Any, user_id: Any, username: str | None, extra_names: tuple[str, ...]) -> TokenRecord:
    def column(name: str) -> Any:
        return getattr(token, name) if name in token.__table__.c else None

    scopes = column("scopes")
    return TokenRecord(
        id=token.__mapper__.primary_key_from_instance(token)[0],
        user_id=user_id,
        username=username,
        name=column("name"),
        scopes=frozenset(scopes.split()) if scopes else NO_SCOPES,
        created_at=aware(column("created_at")),
        last_used_at=aware(column("last_used_at")),
        expires_at=aware(column("expires_at")),
        revoked=bool(token.revoked),
        extra=MappingProxyType({name: getattr(token, name) for name in extra_names}) if extra_names else NO_EXTRA,
    )
