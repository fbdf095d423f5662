"""Checking Basic credentials against the hub's user store."""

from __future__ import annotations

import sqlalchemy as sa

import authhub
from authhub.users import UserRecord

from .conftest import PASSWORD, basic, refusal, request


def test_good_credentials_give_the_user_and_no_auth(hub, alice):
    req = request(hub, basic("alice", PASSWORD))
    assert req.user == alice
    assert req.auth is None
    assert req.auth_scheme == "basic"


def test_a_wrong_password_is_refused(hub, alice):
    error = refusal(hub, basic("alice", PASSWORD + "!"))
    assert isinstance(error, authhub.AuthenticationFailed)
    assert (error.status_code, error.detail) == (401, "Invalid username/password.")


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(hub, alice):
    error = refusal(hub, basic("mallory", PASSWORD))
    assert (error.status_code, error.detail) == (401, "Invalid username/password.")


def test_an_inactive_user_is_refused_even_with_the_right_password(hub):
    hub.users.create("carol", PASSWORD, is_active=False)
    error = refusal(hub, basic("carol", PASSWORD))
    assert (error.status_code, error.detail) == (401, "User inactive or deleted.")


def test_an_inactive_user_with_a_wrong_password_learns_nothing_more(hub):
    hub.users.create("carol", PASSWORD, is_active=False)
    assert refusal(hub, basic("carol", "wrong")).detail == "Invalid username/password."


def test_user_names_are_matched_by_their_rfc8265_form(hub, alice):
    # UsernameCaseMapped: case and width are mapped; a space or a no-break space is never ignored.
    assert hub.authenticate(request(hub, basic("Alice", PASSWORD))).user.username == "alice"
    assert hub.authenticate(request(hub, basic("\uff41lice", PASSWORD))).user.username == "alice"
    assert refusal(hub, basic("alice ", PASSWORD)).detail == "Invalid username/password."
    assert refusal(hub, basic("alice\xa0", PASSWORD)).detail == "Invalid username/password."
    assert refusal(hub, basic("al\u0456ce", PASSWORD)).detail == "Invalid username/password."


def test_an_empty_password_is_checked_and_refused(hub, alice):
    assert refusal(hub, basic("alice", "")).detail == "Invalid username/password."


def test_utf8_user_names_and_passwords(hub):
    names = {"jürgen": "jürgen", "Łukasz": "łukasz", "用户": "用户", "Δημήτρης": "δημήτρης"}
    for name in names:
        hub.users.create(name, f"pässwörd-{name}-🔑")
    for name, stored in names.items():
        assert hub.authenticate(request(hub, basic(name, f"pässwörd-{name}-🔑"))).user.username == stored
        assert refusal(hub, basic(name, "pässwörd")).detail == "Invalid username/password."


def test_unicode_forms_are_not_folded(hub):
    # NFC "é" and NFD "e + combining accent" are different passwords: nothing is normalised behind the user's back.
    hub.users.create("zoé", "caf\u00e9")
    assert hub.authenticate(request(hub, basic("zoé", "caf\u00e9"))).user.username == "zoé"
    assert refusal(hub, basic("zoé", "cafe\u0301")).detail == "Invalid username/password."


def test_colons_in_passwords(hub):
    hub.users.create("dave", "pa:ss:wo:rd")
    hub.users.create("erin", ":")
    hub.users.create("fred", "trailing:")
    assert hub.authenticate(request(hub, basic("dave", "pa:ss:wo:rd"))).user.username == "dave"
    assert hub.authenticate(request(hub, basic("erin", ":"))).user.username == "erin"
    assert hub.authenticate(request(hub, basic("fred", "trailing:"))).user.username == "fred"
    assert refusal(hub, basic("dave", "pa")).detail == "Invalid username/password."


def test_a_changed_password_takes_effect_at_once(hub, alice):
    hub.users.set_password("alice", "new password")
    assert refusal(hub, basic("alice", PASSWORD)).detail == "Invalid username/password."
    assert hub.authenticate(request(hub, basic("alice", "new password"))).user == alice


def stored_hash(hub: authhub.AuthHub, username: str) -> str:
    table = UserRecord.__table__
    with hub.store.connect() as connection:
        return connection.scalar(sa.select(table.c.password_hash).where(table.c.username == username))


def test_a_hash_is_upgraded_when_the_hashing_parameters_change(make_hub):
    old = make_hub(password_time_cost=1, password_memory_cost=8)
    old.users.create("gina", PASSWORD)
    assert "m=8,t=1" in stored_hash(old, "gina")
    new = make_hub(password_time_cost=2, password_memory_cost=16)
    assert new.authenticate(request(new, basic("gina", PASSWORD))).user.username == "gina"
    upgraded = stored_hash(new, "gina")
    assert "m=16,t=2" in upgraded
    assert new.authenticate(request(new, basic("gina", PASSWORD))).user.username == "gina"
    assert refusal(new, basic("gina", "wrong")).detail == "Invalid username/password."


def test_an_application_user_store_is_used(make_hub):
    class Directory:
        """An application's own users, handed in through the user_store hook."""

        accounts = {"ops": ("s3cret", True), "gone": ("s3cret", False)}

        @authhub.hookimpl
        def user_store(self, hub):
            return self

        def check_password(self, username, password):
            account = self.accounts.get(username)
            if account is None or account[0] != password:
                raise authhub.AuthenticationFailed("Invalid username/password.")
            if not account[1]:
                raise authhub.AuthenticationFailed("User inactive or deleted.")
            return authhub.User(99, username)

        def get(self, user_id):
            return None

    hub = make_hub(plugins={"directory": Directory()})
    assert hub.authenticate(request(hub, basic("ops", "s3cret"))).user == authhub.User(99, "ops")
    assert refusal(hub, basic("ops", "nope")).detail == "Invalid username/password."
    assert refusal(hub, basic("gone", "s3cret")).detail == "User inactive or deleted."


def test_basic_on_postgresql(make_hub, authhub_postgres_url):
    hub = make_hub(database_url=authhub_postgres_url)
    hub.users.create("jürgen", "pa:ss")
    assert hub.store.dialect == "postgresql"
    assert hub.authenticate(request(hub, basic("jürgen", "pa:ss"))).user.username == "jürgen"
    assert refusal(hub, basic("jürgen", "pa")).detail == "Invalid username/password."
    assert refusal(hub, basic("nobody", "pa:ss")).detail == "Invalid username/password."


def test_an_unreachable_database_is_a_503_never_anonymous(make_hub):
    hub = make_hub(upgrade=False, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    error = refusal(hub, basic("alice", PASSWORD))
    assert isinstance(error, authhub.StoreUnavailable)
    assert error.status_code == 503
