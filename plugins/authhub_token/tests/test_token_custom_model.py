"""An application plugin hands in its own BaseToken subclass, with an extra column, end to end.

The application owns that model's table: it ships an Alembic revision in
its own branch and returns the directory from ``migration_directory``, so
``hub.upgrade()`` (``authhub db upgrade``) creates it beside the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

import authhub
import authhub_token
from authhub_token import BaseToken, TokenError

from .conftest import refusal, request


@pytest.fixture(scope="module")
def service_token() -> Iterator[type[BaseToken]]:
    """The application's model: a machine token naming the service that holds it; no name, scopes or expiry.

    Declared while this module's tests run and taken off the shared metadata
    afterwards, so other tests that compare the metadata with their database
    never see a table only these tests create.
    """

    class ServiceToken(BaseToken):
        __tablename__ = "testapp_service_token"

        id: Mapped[int] = mapped_column(primary_key=True)
        service: Mapped[str] = mapped_column(sa.String(50))

    yield ServiceToken
    authhub.Base.metadata.remove(ServiceToken.__table__)


class ApplicationPlugin:
    """The application's plugin: its token model and its migrations."""

    def __init__(self, model: type[BaseToken]) -> None:
        self.model = model

    @authhub.hookimpl
    def token_model(self) -> type[BaseToken]:
        return self.model

    @authhub.hookimpl
    def migration_directory(self) -> str:
        return str(Path(__file__).parent / "app_migrations")


@pytest.fixture
def app_hub(make_hub, service_token):
    hub = make_hub(plugins={"testapp": ApplicationPlugin(service_token)})
    hub.users.create("alice", "pw")
    return hub


def test_the_application_model_takes_over(app_hub, service_token):
    assert app_hub.hooks.token_model() is service_token
    assert sa.inspect(app_hub.store.engine).has_table("testapp_service_token")


def test_tokens_of_the_custom_model_authenticate_with_the_extra_column(app_hub, service_token):
    new = authhub_token.create_token(app_hub, "alice", service="billing")
    identity = app_hub.authenticate(request(app_hub, f"Token {new.key}"))
    assert identity.user.username == "alice"
    assert identity.auth.extra == {"service": "billing"}
    assert identity.auth.name is None and identity.auth.expires_at is None
    with app_hub.store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(authhub_token.Token)) == 0
        row = session.get(service_token, new.token.id)
        alice = app_hub.users.get_by_username("alice")
        assert row.service == "billing" and row.user_id == str(alice.id) and row.key is None


def test_list_and_revoke_use_the_custom_model(app_hub):
    new = authhub_token.create_token(app_hub, "alice", service="search")
    (listed,) = authhub_token.list_tokens(app_hub, "alice")
    assert listed.extra == {"service": "search"} and listed.name is None
    assert authhub_token.revoke_token(app_hub, new.token.id)
    assert refusal(app_hub, f"Token {new.key}").detail == "Invalid token."


def test_columns_the_custom_model_lacks_are_clear_errors(app_hub):
    with pytest.raises(TokenError, match="no 'name' column"):
        authhub_token.create_token(app_hub, "alice", name="ci", service="x")
    with pytest.raises(TokenError, match="no column"):
        authhub_token.create_token(app_hub, "alice", colour="red")
    assert authhub_token.list_tokens(app_hub) == []


def test_a_model_that_is_not_a_base_token_is_refused_closed(make_hub):
    class Wrong:
        @authhub.hookimpl
        def token_model(self) -> type:
            return dict

    # Checked once, when the hub is built: the hub refuses to start (never serves anonymously).
    with pytest.raises(authhub.ConfigurationError, match="expected a subclass of BaseToken") as caught:
        make_hub(plugins={"wrong": Wrong()})
    assert caught.value.status_code == 500


def test_without_the_application_plugin_the_default_model_answers(hub):
    assert hub.hooks.token_model() is authhub_token.Token


def test_the_application_wins_even_when_registered_before_the_token_plugin(make_hub, service_token):
    # Without trylast, pluggy would ask the plugin registered last (here: token) first.
    plugins = {"testapp": ApplicationPlugin(service_token), "token": authhub_token}
    hub = make_hub(load_entry_points=False, plugins=plugins)
    assert hub.hooks.token_model() is service_token
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice", service="early")
    assert hub.authenticate(request(hub, f"Token {new.key}")).auth.extra == {"service": "early"}
