"""oauth_0004: tokens issued before it stay bearer tokens; its downgrade revokes bound tokens, never unbinds them."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import command

from authhub import AuthHub, Request
from authhub.store import migration_config
from authhub_oauth.models import OAuthToken, digest

NOW = dt.datetime.now(dt.timezone.utc)


def migrate(hub: AuthHub, step: Callable[..., None], revision: str) -> None:
    with hub.store.connect() as connection:
        config = migration_config(hub.migration_directories())
        config.attributes["connection"] = connection
        step(config, revision)


def add_client(hub: AuthHub) -> None:
    clients = sa.table("oauth_client", *(sa.column(name) for name in (
        "client_id", "client_secret_digest", "name", "grant_types", "redirect_uris", "scope", "may_introspect",
        "created_at")))
    with hub.store.connect() as connection:
        connection.execute(clients.insert().values(client_id="svc", client_secret_digest=None, name="svc",
                                                   grant_types="", redirect_uris="", scope="", may_introspect=False,
                                                   created_at=NOW))


def add_token(hub: AuthHub) -> str:
    token = secrets.token_urlsafe(32)
    tokens = sa.table("oauth_token", *(sa.column(name) for name in (
        "access_token_digest", "client_id", "user_id", "scope", "family_id", "issued_at", "expires_at")))
    with hub.store.connect() as connection:
        connection.execute(tokens.insert().values(
            access_token_digest=digest(token), client_id="svc", user_id=None, scope="read",
            family_id=secrets.token_hex(16), issued_at=NOW, expires_at=NOW + dt.timedelta(hours=1)))
    return token


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_tokens_made_before_stay_bearer_tokens(
    database: str, request: pytest.FixtureRequest, authhub_make_hub: Callable[..., AuthHub]
) -> None:
    options = {"database_url": request.getfixturevalue("authhub_postgres_url")} if database == "postgresql" else {}
    hub = authhub_make_hub(upgrade=False, schemes=["oauth"], **options)
    migrate(hub, command.upgrade, "oauth_0003")
    add_client(hub)
    token = add_token(hub)

    hub.upgrade()

    columns = {column["name"]: column for column in sa.inspect(hub.store.engine).get_columns("oauth_token")}
    assert columns["dpop_jkt"]["nullable"]
    assert "oauth_dpop_proof" in sa.inspect(hub.store.engine).get_table_names()
    identity = Request("GET", "/", [("Authorization", f"Bearer {token}")], hub=hub).identity
    assert identity.auth.jkt is None
    assert identity.user.username == "client:svc"


def test_the_downgrade_revokes_bound_tokens(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=["oauth"])
    add_client(hub)
    bearer, bound = add_token(hub), add_token(hub)
    with hub.store.session() as session:
        session.execute(sa.update(OAuthToken).where(OAuthToken.access_token_digest == digest(bound))
                        .values(dpop_jkt="x" * 43))

    migrate(hub, command.downgrade, "oauth_0003")

    with hub.store.connect() as connection:
        rows = dict(connection.execute(sa.text("SELECT access_token_digest, revoked_at FROM oauth_token")).all())
    assert rows[digest(bearer)] is None
    assert rows[digest(bound)] is not None  # it would have become a bearer token
    assert "oauth_dpop_proof" not in sa.inspect(hub.store.engine).get_table_names()
