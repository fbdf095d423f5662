"""The installed distribution: entry point, migrations that match the models, the test-credentials hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from authhub import AuthHub, Base
from authhub.revisions import scripts

from .conftest import PASSWORD


def test_installed_entry_point_is_the_oauth_scheme(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub()
    info = next(info for info in hub.plugins if info.name == "oauth")

    assert info.distribution == "authhub-oauth"
    assert info.error is None
    assert {"authenticate", "challenge", "migration_directory", "serve_routes", "auth_headers"} <= set(info.hooks)
    assert "oauth" in hub.schemes


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_matches_the_models(
    request: pytest.FixtureRequest, authhub_make_hub: Callable[..., AuthHub], backend: str
) -> None:
    options = {"database_url": request.getfixturevalue("authhub_postgres_url")} if backend == "postgresql" else {}
    hub = authhub_make_hub(**options)
    hub.upgrade()  # a second time: idempotent
    with hub.store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [change for change in diff if "oauth_" in repr(change)]
    assert ours == []
    assert hub.store.current_revisions(hub.migration_directories()) == set(scripts(hub).get_heads())


def test_authhub_auth_headers_fixture_gives_a_working_bearer_token(
    hub: AuthHub, base: str, authhub_user: Callable[..., Any], authhub_auth_headers: Callable[..., dict[str, str]]
) -> None:
    user = authhub_user("carol", PASSWORD, hub=hub)
    headers = authhub_auth_headers(user, scheme="oauth")

    assert headers["Authorization"].startswith("Bearer ")
    assert requests.get(f"{base}/whoami", headers=headers, timeout=10).json() == {
        "authenticated": True, "user": "carol", "scheme": "oauth"}
