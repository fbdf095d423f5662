"""The distribution: its entry point, its settings, its migration branch matching its model."""

from __future__ import annotations

import importlib_metadata
import pytest
import sqlalchemy as sa

import authhub
import authhub_token


def test_the_entry_point_names_the_scheme():
    (entry_point,) = [ep for ep in importlib_metadata.entry_points(group="authhub") if ep.name == "token"]
    assert entry_point.value == "authhub_token"
    assert entry_point.dist.name == "authhub-token" and entry_point.dist.version == authhub_token.__version__


def test_an_installed_hub_finds_the_scheme(hub):
    assert "token" in hub.installed_schemes and hub.schemes == ("token",)
    assert set(hub.settings.section("token")) == {
        "keyword", "lifetime", "max_per_user", "last_used_interval", "cache_ttl", "cache_size", "create_schemes",
        "max_lifetime"}


def test_settings_from_the_environment(make_hub):
    hub = make_hub(environ={"AUTHHUB_TOKEN_CACHE_TTL": "2.5", "AUTHHUB_TOKEN_MAX_PER_USER": "3"})
    section = hub.settings.section("token")
    assert section["cache_ttl"] == 2.5 and section["max_per_user"] == 3


def test_an_unknown_setting_is_refused(make_hub):
    with pytest.raises(authhub.ConfigurationError, match="token.cache"):
        make_hub(token={"cache": 1})


def test_the_migration_has_its_own_branch_and_refers_to_users_by_text(hub):
    revisions = hub.store.current_revisions(hub.migration_directories())
    assert "token_0002" in revisions
    inspector = sa.inspect(hub.store.engine)
    indexes = {index["name"]: index for index in inspector.get_indexes("authhub_token")}
    assert indexes["ix_authhub_token_user_id"]["column_names"] == ["user_id"]
    uniques = inspector.get_unique_constraints("authhub_token")
    assert [u["column_names"] for u in uniques] == [["digest"]]
    assert inspector.get_foreign_keys("authhub_token") == []  # any user store: no key to authhub_user
    (user_id,) = [column for column in inspector.get_columns("authhub_token") if column["name"] == "user_id"]
    assert isinstance(user_id["type"], sa.String) and user_id["type"].length == 255


def test_the_scheme_object_describes_itself(hub, make_hub):
    scheme = hub.find_scheme(authhub_token.TokenScheme)
    assert isinstance(scheme, authhub.Scheme) and scheme.position == 100 and scheme.name == "token"
    assert hub.openapi("token") == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "authhub-token: `Authorization: Token <key>`.",
    }
    other = make_hub(token={"keyword": "ApiKey"})
    assert other.openapi("token")["description"] == "authhub-token: `Authorization: ApiKey <key>`."
    assert other.find_scheme(authhub_token.TokenScheme) is not scheme


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_migration_matches_the_model(make_hub, request, backend):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    settings = {}
    if backend == "postgresql":
        settings["database_url"] = request.getfixturevalue("authhub_postgres_url")
    hub = make_hub(**settings)
    hub.upgrade()  # twice is harmless
    with hub.store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), authhub.Base.metadata)
    assert [d for d in diff if "authhub_token" in repr(d)] == []
