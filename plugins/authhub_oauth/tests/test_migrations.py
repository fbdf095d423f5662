"""oauth_0002: a database holding codes and tokens made under oauth_0001 keeps them, with user ids as text."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import command

from authhub import AuthHub, Request
from authhub.revisions import applied
from authhub.store import migration_config
from authhub_oauth.models import digest

from .conftest import PASSWORD

NOW = dt.datetime.now(dt.timezone.utc)

# The tables as oauth_0001 made them: integer user ids with a foreign key to authhub_user.
_metadata = sa.MetaData()
clients_0001 = sa.Table(
    "oauth_client", _metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("client_id", sa.String(64)),
    sa.Column("client_secret_digest", sa.String(64)), sa.Column("name", sa.String(200)),
    sa.Column("grant_types", sa.Text), sa.Column("redirect_uris", sa.Text), sa.Column("scope", sa.Text),
    sa.Column("may_introspect", sa.Boolean), sa.Column("created_at", sa.DateTime(timezone=True)),
)
codes_0001 = sa.Table(
    "oauth_authorization_code", _metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("code_digest", sa.String(64)),
    sa.Column("client_id", sa.String(64)), sa.Column("user_id", sa.Integer), sa.Column("redirect_uri", sa.Text),
    sa.Column("scope", sa.Text), sa.Column("code_challenge", sa.String(128)),
    sa.Column("code_challenge_method", sa.String(16)), sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)), sa.Column("used_at", sa.DateTime(timezone=True)),
)
tokens_0001 = sa.Table(
    "oauth_token", _metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("access_token_digest", sa.String(64)),
    sa.Column("refresh_token_digest", sa.String(64)), sa.Column("client_id", sa.String(64)),
    sa.Column("user_id", sa.Integer), sa.Column("scope", sa.Text), sa.Column("family_id", sa.String(32)),
    sa.Column("authorization_code_id", sa.Integer), sa.Column("issued_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)), sa.Column("refresh_expires_at", sa.DateTime(timezone=True)),
    sa.Column("refresh_used_at", sa.DateTime(timezone=True)), sa.Column("revoked_at", sa.DateTime(timezone=True)),
)


def upgrade_to(hub: AuthHub, revision: str) -> None:
    with hub.store.connect() as connection:
        config = migration_config(hub.migration_directories())
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_hub(request: pytest.FixtureRequest, authhub_make_hub: Callable[..., AuthHub]) -> AuthHub:
    """A hub whose database is at oauth_0001 (and the core revision it depends on)."""
    options = {"database_url": request.getfixturevalue("authhub_postgres_url")} if request.param == "postgresql" else {}
    hub = authhub_make_hub(upgrade=False, schemes=["oauth"], **options)
    upgrade_to(hub, "oauth_0001")
    return hub


def test_upgrade_keeps_codes_and_tokens_with_user_ids_as_text(old_hub: AuthHub) -> None:
    alice = old_hub.users.create("alice", PASSWORD)
    access, refresh, service = (secrets.token_urlsafe(32) for _ in range(3))
    with old_hub.store.connect() as connection:
        connection.execute(sa.insert(clients_0001).values(
            client_id="webapp", client_secret_digest=None, name="Web app", grant_types="authorization_code",
            redirect_uris="https://app.example/cb", scope="read", may_introspect=False, created_at=NOW))
        connection.execute(sa.insert(codes_0001).values(
            code_digest=digest("a code"), client_id="webapp", user_id=alice.id, redirect_uri="https://app.example/cb",
            scope="read", created_at=NOW, expires_at=NOW + dt.timedelta(minutes=5)))
        connection.execute(sa.insert(tokens_0001), [
            {"access_token_digest": digest(access), "refresh_token_digest": digest(refresh), "client_id": "webapp",
             "user_id": alice.id, "scope": "read", "family_id": "f" * 32, "issued_at": NOW,
             "expires_at": NOW + dt.timedelta(hours=1), "refresh_expires_at": NOW + dt.timedelta(days=1)},
            {"access_token_digest": digest(service), "refresh_token_digest": None, "client_id": "webapp",
             "user_id": None, "scope": "", "family_id": "e" * 32, "issued_at": NOW,
             "expires_at": NOW + dt.timedelta(hours=1), "refresh_expires_at": None},
        ])

    old_hub.upgrade()

    assert "oauth_0002" in applied(old_hub)
    inspector = sa.inspect(old_hub.store.engine)
    for table in ("oauth_authorization_code", "oauth_token"):
        column = next(column for column in inspector.get_columns(table) if column["name"] == "user_id")
        assert isinstance(column["type"], sa.String) and column["type"].length == 255
        assert [key["referred_table"] for key in inspector.get_foreign_keys(table)] == ["oauth_client"]
        assert f"ix_{table}_user_id" in {index["name"] for index in inspector.get_indexes(table)}
    with old_hub.store.connect() as connection:
        code_users = connection.execute(sa.text("SELECT user_id FROM oauth_authorization_code")).scalars().all()
        token_users = connection.execute(sa.text("SELECT user_id FROM oauth_token ORDER BY id")).scalars().all()
    assert code_users == [str(alice.id)]
    assert token_users == [str(alice.id), None]

    # The rows still work: the user's token is the user's, the client's the client's.
    user_token = Request("GET", "/", [("Authorization", f"Bearer {access}")], hub=old_hub).identity
    assert user_token.user == alice
    client_token = Request("GET", "/", [("Authorization", f"Bearer {service}")], hub=old_hub).identity
    assert client_token.user.username == "client:webapp"


def test_downgrade_restores_the_integer_column(old_hub: AuthHub) -> None:
    alice = old_hub.users.create("alice", PASSWORD)
    old_hub.upgrade()
    token = old_hub.auth_headers("oauth", alice)["Authorization"].split()[1]

    config = migration_config(old_hub.migration_directories())
    with old_hub.store.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "oauth_0001")
        user_id = connection.execute(
            sa.select(tokens_0001.c.user_id).where(tokens_0001.c.access_token_digest == digest(token))
        ).scalar_one()
    assert user_id == alice.id


def test_downgrade_refuses_rows_of_users_outside_authhub_user(authhub_account_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_account_hub(schemes=["oauth"])
    hub.auth_headers("oauth", hub.users.add("alice", PASSWORD))

    config = migration_config(hub.migration_directories())
    before = hub.store.current_revisions(hub.migration_directories())
    with pytest.raises(RuntimeError, match="cannot downgrade oauth_0002: 1 row"), hub.store.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "oauth_0001")
    assert hub.store.current_revisions(hub.migration_directories()) == before
