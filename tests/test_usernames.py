"""User names under RFC 8265's UsernameCaseMapped profile: one account per name a person would read as one.

Issue 14: a fullwidth 'alice', 'éve' in NFC and NFD, 'alice ' and
'alice\\xa0', 'alice' with a Cyrillic i (U+0456) were separate accounts beside
'alice' and 'éve'.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

import authhub
from authhub.users import UserError, UserRecord, canonical_username

PASSWORD = "correct horse"


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, authhub_make_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    if request.param == "postgresql":
        return authhub_make_hub(database_url=request.getfixturevalue("authhub_postgres_url"))
    return authhub_make_hub()


@pytest.mark.parametrize(
    ("lookalike", "reason"),
    [
        ("\uff41lice", "already exists"),  # fullwidth a
        ("Alice", "already exists"),
        ("ALICE", "already exists"),
        ("alice ", "spaces"),
        (" alice", "spaces"),
        ("alice\xa0", "spaces"),
        ("al\u0456ce", "mix Latin"),  # Cyrillic i (U+0456)
    ],
)
def test_a_lookalike_of_an_existing_user_cannot_be_created(hub: authhub.AuthHub, lookalike: str, reason: str) -> None:
    hub.users.create("alice", PASSWORD)
    with pytest.raises(UserError, match=reason):
        hub.users.create(lookalike, PASSWORD)
    with hub.store.session() as session:
        assert session.scalars(sa.select(UserRecord.username)).all() == ["alice"]


def test_nfc_and_nfd_are_one_user(hub: authhub.AuthHub) -> None:
    nfc, nfd = "\u00e9ve", "e\u0301ve"
    created = hub.users.create(nfd, PASSWORD)
    assert created.username == nfc
    with pytest.raises(UserError, match="already exists"):
        hub.users.create(nfc, PASSWORD)
    assert hub.users.check_password(nfc, PASSWORD).id == created.id
    assert hub.users.check_password(nfd, PASSWORD).id == created.id


def test_every_lookup_by_name_uses_the_canonical_form(hub: authhub.AuthHub) -> None:
    alice = hub.users.create("\uff21lice", PASSWORD)  # fullwidth A
    assert alice.username == "alice"
    for spelling in ("alice", "Alice", "\uff41lice", "ALICE"):
        assert hub.users.get_by_username(spelling) == alice
        assert hub.users.check_password(spelling, PASSWORD) == alice
    for other in ("alice ", "alice\xa0", "al\u0456ce", "a\x00lice", "alice\x00", "\ud800"):
        assert hub.users.get_by_username(other) is None
        with pytest.raises(authhub.AuthenticationFailed):
            hub.users.check_password(other, PASSWORD)
    hub.users.deactivate("ALICE")
    assert hub.users.get_by_username("alice").is_active is False


def test_rows_stored_before_normalisation_are_still_found_and_still_taken(hub: authhub.AuthHub) -> None:
    with hub.store.session() as session:
        session.add(UserRecord(username="Bob", password_hash="x"))
    assert hub.users.get_by_username("Bob") is not None
    with pytest.raises(UserError, match="already exists"):
        hub.users.create("bob", PASSWORD)


def test_the_profile_is_rfc_8265_username_case_mapped() -> None:
    assert canonical_username("\uff2a\uff55\uff52\uff47\uff45\uff4e") == "jurgen"
    assert canonical_username("J\u00fcRGEN") == "j\u00fcrgen"
    for refused in ("", "a b", "tab\t", "\u2003em", "nul\x00"):
        with pytest.raises(UserError):
            canonical_username(refused)

