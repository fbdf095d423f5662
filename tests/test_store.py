"""The built-in user store and migrations, on SQLite and on the PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import argon2
import pytest
import sqlalchemy as sa

import authhub
from authhub import AuthHub
from authhub.testing import FAST_HASHING
from authhub.users import UserError, UserRecord


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("authhub_postgres_url")


def make(tmp_path: Any, database_url: str, **settings: Any) -> AuthHub:
    options = {**FAST_HASHING, **settings}
    hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, database_url=database_url, **options)
    hub.upgrade()
    return hub


def test_users_create_check_and_manage(tmp_path, database_url):
    hub = make(tmp_path, database_url)
    alice = hub.users.create("alice", "s3cret:with:colons")
    assert alice.username == "alice" and alice.is_active
    assert hub.users.check_password("alice", "s3cret:with:colons") == alice
    with pytest.raises(authhub.AuthenticationFailed, match="Invalid username/password."):
        hub.users.check_password("alice", "wrong")
    with pytest.raises(authhub.AuthenticationFailed, match="Invalid username/password."):
        hub.users.check_password("nobody", "wrong")

    hub.users.set_password("alice", "new password")
    with pytest.raises(authhub.AuthenticationFailed):
        hub.users.check_password("alice", "s3cret:with:colons")
    assert hub.users.check_password("alice", "new password").id == alice.id

    hub.users.deactivate("alice")
    with pytest.raises(authhub.AuthenticationFailed, match="User inactive or deleted."):
        hub.users.check_password("alice", "new password")
    # A wrong password for an inactive user does not reveal that the account exists.
    with pytest.raises(authhub.AuthenticationFailed, match="Invalid username/password."):
        hub.users.check_password("alice", "wrong")
    hub.users.activate("alice")
    assert hub.users.get(alice.id) == alice
    assert [u.username for u in hub.users.list()] == ["alice"]


def test_passwords_are_stored_as_argon2id_hashes(tmp_path, database_url):
    hub = make(tmp_path, database_url)
    hub.users.create("bob", "hunter2")
    with hub.store.connect() as connection:
        stored = connection.execute(sa.select(UserRecord.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "hunter2" not in stored


def test_creating_an_existing_user_changes_nothing(tmp_path, database_url):
    hub = make(tmp_path, database_url)
    hub.users.create("carol", "first")
    with pytest.raises(UserError, match="'carol' already exists"):
        hub.users.create("carol", "second")
    assert hub.users.check_password("carol", "first").username == "carol"
    assert len(hub.users.list()) == 1


@pytest.mark.parametrize("name", ["", "  ", "a:b", "tab\there", "x" * 151])
def test_bad_user_names_are_refused(tmp_path, name):
    hub = make(tmp_path, f"sqlite:///{tmp_path / 'u.db'}")
    with pytest.raises(UserError):
        hub.users.create(name, "pw")
    assert hub.users.list() == []


def test_unicode_user_names_and_passwords(tmp_path, database_url):
    hub = make(tmp_path, database_url)
    hub.users.create("zoë", "pässwörd 🔑")
    assert hub.users.check_password("zoë", "pässwörd 🔑").username == "zoë"


def test_hash_is_upgraded_when_parameters_change(tmp_path, database_url):
    weak = make(tmp_path, database_url)
    weak.users.create("dave", "pw")
    weak.close()
    stronger = make(tmp_path, database_url, password_time_cost=2)
    stronger.users.check_password("dave", "pw")
    with stronger.store.connect() as connection:
        stored = connection.execute(sa.select(UserRecord.password_hash)).scalar_one()
    assert argon2.extract_parameters(stored).time_cost == 2
    assert stronger.users.check_password("dave", "pw").username == "dave"


def test_user_changed_and_invalidated_hooks_are_told(tmp_path, database_url):
    changed: list[tuple[Any, str, bool]] = []
    invalidated: list[tuple[str, str]] = []

    class Listener:
        @authhub.hookimpl
        def user_changed(self, hub: AuthHub, user: Any) -> None:
            changed.append((user.id, user.username, user.is_active))

        @authhub.hookimpl
        def invalidated(self, kind: str, key: str) -> None:
            invalidated.append((kind, key))

    hub = make(tmp_path, database_url, plugins={"listener": Listener()})
    erin = hub.users.create("erin", "pw")
    hub.users.set_password("erin", "pw2")
    hub.users.deactivate("erin")
    hub.users.activate("erin")
    assert changed == [(erin.id, "erin", True), (erin.id, "erin", False), (erin.id, "erin", True)]
    assert invalidated == [("user", str(erin.id))] * 3


def test_unknown_user_management_is_a_clear_error(tmp_path, database_url):
    hub = make(tmp_path, database_url)
    with pytest.raises(UserError, match="no user named 'ghost'"):
        hub.users.deactivate("ghost")
    with pytest.raises(UserError, match="no user named 'ghost'"):
        hub.users.set_password("ghost", "pw")


def test_application_user_store_through_the_hook(tmp_path):
    class Directory:
        def check_password(self, username: str, password: str) -> Any:
            if (username, password) == ("ldap-user", "pw"):
                return authhub.User(100, username)
            raise authhub.AuthenticationFailed("Invalid username/password.")

        def get(self, user_id: Any) -> Any:
            return None

    class AppPlugin:
        @authhub.hookimpl
        def user_store(self) -> Any:
            return Directory()

    hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, plugins={"app": AppPlugin()})
    assert isinstance(hub.users, Directory)
    assert hub.users.check_password("ldap-user", "pw").id == 100


def test_migrations_twice_and_over_existing_rows(tmp_path, database_url):
    hub = make(tmp_path, database_url)
    hub.users.create("frank", "pw")
    hub.upgrade()
    hub.upgrade()
    assert [u.username for u in hub.users.list()] == ["frank"]
    from alembic.script import ScriptDirectory

    from authhub.store import migration_config

    heads = set(ScriptDirectory.from_config(migration_config(hub.migration_directories())).get_heads())
    assert hub.store.current_revisions(hub.migration_directories()) == heads
    assert any(head.startswith("authhub_") for head in heads)
    inspector = sa.inspect(hub.store.engine)
    columns = {column["name"] for column in inspector.get_columns("authhub_user")}
    assert columns == {"id", "username", "password_hash", "is_active", "created_at", "updated_at"}


def test_migration_matches_the_model(tmp_path, database_url):
    """The migrated core schema is what the core models declare (alembic autogenerate finds no difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from authhub.store import Base

    core_tables = {"authhub_user", "authhub_attempt"}

    def core_only(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is not None and table.name in core_tables

    hub = make(tmp_path, database_url)
    with hub.store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": core_only})
        assert compare_metadata(context, Base.metadata) == []


def test_timestamps_are_timezone_aware(tmp_path, database_url):
    hub = make(tmp_path, database_url)
    hub.users.create("gus", "pw")
    with hub.store.session() as session:
        record = session.scalars(sa.select(UserRecord)).one()
        created = record.created_at
    assert created.tzinfo is not None or hub.store.dialect == "sqlite"
    assert abs((created.replace(tzinfo=dt.timezone.utc) - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60


def test_unreachable_database_is_store_unavailable(tmp_path):
    hub = AuthHub(
        directory=tmp_path,
        environ={},
        load_entry_points=False,
        database_url="postgresql://postgres@127.0.0.1:1/nothing",
    )
    with pytest.raises(authhub.StoreUnavailable):
        hub.store.check()
    with pytest.raises(authhub.StoreUnavailable):
        hub.users.check_password("alice", "pw")
