"""token_0002 turns an existing ``authhub_token`` (integer user ids, a foreign key) into text ids, keeping the rows."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

import authhub_token
from authhub.store import migration_config
from authhub_token.keys import digest, generate_key

from .conftest import refusal
from .conftest import request as token_request

#: The two tables as token_0001 left them, for inserting rows the way that revision's code did.
USERS_0001 = sa.table(
    "authhub_user",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("password_hash", sa.String),
    sa.column("is_active", sa.Boolean),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
TOKENS_0001 = sa.table(
    "authhub_token",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("scopes", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("user_id", sa.Integer),
    sa.column("digest", sa.LargeBinary),
    sa.column("revoked", sa.Boolean),
)


def migrate(hub, action, target: str) -> None:
    with hub.store.connect() as connection:
        config = migration_config(hub.migration_directories())
        config.attributes["connection"] = connection
        action(config, target)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_0002_keeps_the_rows_of_0001_and_their_keys_keep_working(make_hub, request, backend):
    settings = {"token": {"last_used_interval": None}}
    if backend == "postgresql":
        settings["database_url"] = request.getfixturevalue("authhub_postgres_url")
    hub = make_hub(upgrade=False, **settings)
    migrate(hub, command.upgrade, "token_0001")
    now = dt.datetime.now(dt.timezone.utc)
    later = now + dt.timedelta(days=1)
    keys = {name: generate_key() for name in ("ci", "old", "bob")}
    with hub.store.connect() as connection:
        # Ids as the database gives them (so PostgreSQL's sequences go on from there): 1, 2 and 1, 2, 3.
        connection.execute(sa.insert(USERS_0001), [
            {"username": "alice", "password_hash": "-", "is_active": True, "created_at": now,
             "updated_at": now},
            {"username": "bob", "password_hash": "-", "is_active": True, "created_at": now,
             "updated_at": now},
        ])
        connection.execute(sa.insert(TOKENS_0001), [
            {"name": "ci", "scopes": "read write", "created_at": now, "expires_at": None, "user_id": 1,
             "digest": digest(keys["ci"]), "revoked": False},
            {"name": "old", "scopes": "", "created_at": now, "expires_at": None, "user_id": 1,
             "digest": digest(keys["old"]), "revoked": True},
            {"name": "bob", "scopes": "", "created_at": now, "expires_at": later, "user_id": 2,
             "digest": digest(keys["bob"]), "revoked": False},
        ])

    hub.upgrade()

    assert "token_0002" in hub.store.current_revisions(hub.migration_directories())
    inspector = sa.inspect(hub.store.engine)
    assert inspector.get_foreign_keys("authhub_token") == []
    (user_id,) = [column for column in inspector.get_columns("authhub_token") if column["name"] == "user_id"]
    assert isinstance(user_id["type"], sa.String) and user_id["type"].length == 255 and not user_id["nullable"]
    indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes("authhub_token")}
    assert indexes["ix_authhub_token_user_id"] == ["user_id"]
    with hub.store.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT id, name, scopes, user_id, revoked, digest FROM authhub_token ORDER BY id")).all()
    assert [(row.id, row.name, row.scopes, row.user_id, bool(row.revoked)) for row in rows] == [
        (1, "ci", "read write", "1", False), (2, "old", "", "1", True), (3, "bob", "", "2", False)]
    assert [bytes(row.digest) for row in rows] == [digest(keys[name]) for name in ("ci", "old", "bob")]

    ci = hub.authenticate(token_request(hub, f"Token {keys['ci']}"))
    assert (ci.user.id, ci.user.username, ci.auth.id, ci.auth.scopes) == (1, "alice", 1, frozenset({"read", "write"}))
    assert refusal(hub, f"Token {keys['old']}").detail == "Invalid token."
    bob = hub.authenticate(token_request(hub, f"Token {keys['bob']}"))
    assert bob.user.username == "bob" and abs(bob.auth.expires_at - later) < dt.timedelta(seconds=1)
    assert [(t.id, t.username) for t in authhub_token.list_tokens(hub)] == [(1, "alice"), (2, "alice"), (3, "bob")]
    new = authhub_token.create_token(hub, "alice")
    assert new.token.id == 4 and hub.authenticate(token_request(hub, f"Token {new.key}")).user.username == "alice"

    # And back: integer ids with their foreign key again, rows kept.
    migrate(hub, command.downgrade, "token_0001")
    inspector = sa.inspect(hub.store.engine)
    (foreign,) = inspector.get_foreign_keys("authhub_token")
    assert foreign["referred_table"] == "authhub_user"
    with hub.store.connect() as connection:
        assert connection.execute(sa.text("SELECT user_id FROM authhub_token ORDER BY id")).scalars().all() == [
            1, 1, 2, 1]
