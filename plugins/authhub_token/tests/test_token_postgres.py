"""Two hubs on one PostgreSQL database stand for two application servers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

import authhub_token

from .conftest import listening, refusal, refused_within, request

pytestmark = pytest.mark.postgres


@pytest.fixture
def make_servers(make_hub, authhub_postgres_url):
    """``make_servers(**token_settings)``: two hubs on one fresh database, alice and bob in it, both listening."""

    def make(**token):
        first = make_hub(database_url=authhub_postgres_url, token=token)
        second = make_hub(database_url=authhub_postgres_url, token=token)
        first.users.create("alice", "pw")
        first.users.create("bob", "pw")
        listening(first, second)
        return first, second

    return make


@pytest.fixture
def servers(make_servers):
    return make_servers()  # default settings: the cache on


def test_revocation_reaches_the_other_servers_cache_within_the_bound(servers):
    first, second = servers
    new = authhub_token.create_token(first, "alice")
    for _ in range(3):  # the other server has it cached
        assert second.authenticate(request(second, f"Token {new.key}")).user.username == "alice"
    authhub_token.revoke_token(first, new.token.id)
    assert refused_within(second, f"Token {new.key}").detail == "Invalid token."


def test_with_the_cache_off_revocation_is_seen_by_the_other_server_on_the_very_next_request(make_servers):
    first, second = make_servers(cache_ttl=0.0)
    new = authhub_token.create_token(first, "alice")
    for _ in range(3):  # the other server's lookup connections are warm
        assert second.authenticate(request(second, f"Token {new.key}")).user.username == "alice"
    authhub_token.revoke_token(first, new.token.id)
    assert refusal(second, f"Token {new.key}").detail == "Invalid token."


def test_revoking_all_of_a_user_on_one_server_is_seen_on_the_other(servers):
    first, second = servers
    alices = [authhub_token.create_token(second, "alice", name=str(n)) for n in range(2)]
    bobs = authhub_token.create_token(second, "bob")
    for new in (*alices, bobs):
        assert first.authenticate(request(first, f"Token {new.key}")).is_authenticated
    assert authhub_token.revoke_user_tokens(second, "alice") == 2
    for new in alices:
        assert refused_within(first, f"Token {new.key}").detail == "Invalid token."
    assert first.authenticate(request(first, f"Token {bobs.key}")).user.username == "bob"


def test_deactivation_on_one_server_reaches_the_others_cache(servers):
    first, second = servers
    new = authhub_token.create_token(first, "bob")
    assert second.authenticate(request(second, f"Token {new.key}")).is_authenticated
    first.users.deactivate("bob")
    assert refused_within(second, f"Token {new.key}").detail == "User inactive or deleted."


def test_expiry_on_postgres(make_servers):
    # The expiry is written straight into the table (nobody announces it): with the cache off,
    # the other server sees it on its next request; with the cache on, an entry never outlives
    # the expiry it was read with (test_token_cache).
    first, second = make_servers(cache_ttl=0.0)
    new = authhub_token.create_token(first, "alice", expires_in=dt.timedelta(hours=1))
    auth = second.authenticate(request(second, f"Token {new.key}")).auth
    assert auth.expires_at == new.token.expires_at and auth.expires_at.tzinfo is not None
    with first.store.connect() as connection:
        connection.execute(sa.update(authhub_token.Token.__table__).values(
            expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    assert refusal(second, f"Token {new.key}").detail == "Invalid token."


def test_last_used_at_is_written_once_by_either_server(servers):
    first, second = servers
    new = authhub_token.create_token(first, "alice")
    for hub in (first, second, first, second):
        hub.authenticate(request(hub, f"Token {new.key}"))
    (token,) = authhub_token.list_tokens(first)
    assert token.last_used_at is not None and token.last_used_at >= token.created_at


def test_lookups_leave_no_transaction_open(servers):
    first, second = servers
    new = authhub_token.create_token(first, "alice")
    second.authenticate(request(second, f"Token {new.key}"))
    with first.store.connect() as connection:
        idle_in_transaction = connection.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")).scalar()
    assert idle_in_transaction == 0


def test_concurrent_requests_from_many_threads(servers):
    first, second = servers
    keys = [authhub_token.create_token(first, "alice", name=str(n)).key for n in range(4)]
    failures: list[BaseException] = []

    def work(key: str) -> None:
        try:
            for _ in range(25):
                assert second.authenticate(request(second, f"Token {key}")).user.username == "alice"
        except BaseException as error:  # collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(key,)) for key in keys * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
