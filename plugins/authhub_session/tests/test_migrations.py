"""Migration ``authhub_session_0002``: ``user_id`` becomes text with no foreign key, sessions kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import command

import authhub
from authhub.store import migration_config
from authhub_session.scheme import session_id_digest

from .conftest import get

SESSION_ID = "M" * 43


def migrate(hub: authhub.AuthHub, revision: str, *, down: bool = False) -> None:
    config = migration_config(hub.migration_directories())
    with hub.store.connect() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def user_id_column(hub: authhub.AuthHub) -> tuple[sa.types.TypeEngine, list[dict]]:
    with hub.store.connect() as connection:
        inspector = sa.inspect(connection)
        (column,) = [column for column in inspector.get_columns("authhub_session") if column["name"] == "user_id"]
        return column["type"], inspector.get_foreign_keys("authhub_session")


@pytest.fixture
def database_url(sql_store_kind: str, request: pytest.FixtureRequest, tmp_path) -> str:
    if sql_store_kind == "postgres":
        return request.getfixturevalue("authhub_postgres_url")
    return f"sqlite:///{tmp_path / 'migrated.db'}"


def test_0002_keeps_sessions_made_by_0001(authhub_make_hub: Callable[..., authhub.AuthHub], database_url: str) -> None:
    hub = authhub_make_hub(upgrade=False, schemes=["session"], database_url=database_url)
    migrate(hub, "authhub_session_0001")
    now = dt.datetime.now(dt.timezone.utc)
    with hub.store.connect() as connection:
        user_id = connection.execute(
            sa.text("INSERT INTO authhub_user (username, password_hash, is_active, created_at, updated_at) "
                    "VALUES ('alice', 'x', :yes, :now, :now) RETURNING id"), {"yes": True, "now": now}
        ).scalar_one()
        connection.execute(
            sa.text("INSERT INTO authhub_session (digest, user_id, csrf_secret, created_at, last_seen_at) "
                    "VALUES (:digest, :user_id, :secret, :now, :now)"),
            {"digest": session_id_digest(SESSION_ID), "user_id": user_id, "secret": "c" * 43, "now": now},
        )
    kind, foreign_keys = user_id_column(hub)
    assert isinstance(kind, sa.Integer) and foreign_keys

    hub.upgrade()

    kind, foreign_keys = user_id_column(hub)
    assert isinstance(kind, sa.String) and kind.length == 255
    assert foreign_keys == []
    with hub.store.connect() as connection:
        indexes = {index["name"] for index in sa.inspect(connection).get_indexes("authhub_session")}
    assert {"ix_authhub_session_user_id", "ix_authhub_session_created_at", "ix_authhub_session_last_seen_at"} <= indexes
    with hub.store.connect() as connection:
        rows = connection.execute(sa.text("SELECT digest, user_id, csrf_secret FROM authhub_session")).all()
        # no foreign key any more: a user of another store
        connection.execute(
            sa.text("INSERT INTO authhub_session (digest, user_id, csrf_secret, created_at, last_seen_at) "
                    "VALUES (:digest, :user_id, :secret, :now, :now)"),
            {"digest": "d" * 64, "user_id": "6f1c0a52-0000-4000-8000-000000000000", "secret": "c" * 43, "now": now},
        )
    assert rows == [(session_id_digest(SESSION_ID), str(user_id), "c" * 43)]
    identity = get(hub, cookie=f"authhub_session={SESSION_ID}").identity
    assert (identity.user.username, identity.scheme) == ("alice", "session")

    # and back: the built-in store's sessions return to an integer key, the others go
    migrate(hub, "authhub_session_0001", down=True)
    kind, foreign_keys = user_id_column(hub)
    assert isinstance(kind, sa.Integer) and foreign_keys
    with hub.store.connect() as connection:
        assert connection.execute(sa.text("SELECT digest, user_id FROM authhub_session")).all() == [
            (session_id_digest(SESSION_ID), user_id)
        ]
