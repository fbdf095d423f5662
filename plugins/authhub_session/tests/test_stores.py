"""The store contract, the same on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
import sqlalchemy as sa

import authhub
from authhub_session.scheme import session_id_digest
from authhub_session.stores import RedisSessionStore, SessionData, SessionRecord, utcnow

from .conftest import sessions_of


def _session(user: authhub.User, digest: str, created: dt.datetime, seen: dt.datetime) -> SessionData:
    return SessionData(digest, str(user.id), "c" * 43, created, seen)


def test_start_keeps_a_digest_never_the_id(hub: authhub.AuthHub, alice: authhub.User, store_kind: str) -> None:
    sessions = sessions_of(hub)
    session_id, session = sessions.start(alice)

    assert len(session_id) == 43  # 256 random bits, URL-safe base64
    assert session.digest == session_id_digest(session_id) != session_id
    found = sessions.find(session_id)
    assert found is not None
    assert (found.user_id, found.csrf_secret) == (str(alice.id), session.csrf_secret)
    assert abs(found.created_at - session.created_at) < dt.timedelta(milliseconds=1)
    if store_kind == "redis":
        store = sessions.store
        assert isinstance(store, RedisSessionStore)
        client = redis.Redis.from_url(hub.settings.section("session")["redis_url"])
        keys = [key.decode() for key in client.scan_iter(match=f"{store.prefix}*")]
        client.close()
        assert keys and not any(session_id in key for key in keys)
        assert f"{store.prefix}s:{session.digest}" in keys
    else:
        with hub.store.connect() as connection:
            rows = connection.execute(sa.select(SessionRecord.__table__)).all()
        assert [row.digest for row in rows] == [session.digest]
        assert session_id not in repr(rows)


def test_find_refuses_unknown_and_malformed_ids(hub: authhub.AuthHub, alice: authhub.User) -> None:
    sessions = sessions_of(hub)
    sessions.start(alice)
    assert sessions.find("A" * 43) is None
    assert sessions.find("short") is None
    assert sessions.find("A" * 42 + "!") is None


def test_touch_moves_last_seen(hub: authhub.AuthHub, alice: authhub.User) -> None:
    sessions = sessions_of(hub)
    old = utcnow() - dt.timedelta(seconds=600)
    session = _session(alice, session_id_digest("x" * 43), old, old)
    sessions.store.add(session, 3600)
    later = utcnow()
    sessions.store.touch(session, later, 3600)
    found = sessions.find("x" * 43)
    assert found is not None
    assert abs(found.last_seen_at - later) < dt.timedelta(milliseconds=1)
    assert abs(found.created_at - old) < dt.timedelta(milliseconds=1)


def test_touch_does_not_bring_back_a_deleted_session(hub: authhub.AuthHub, alice: authhub.User) -> None:
    sessions = sessions_of(hub)
    session_id, session = sessions.start(alice)
    sessions.end(session_id)
    sessions.store.touch(session, utcnow(), 3600)
    assert sessions.find(session_id) is None


def test_delete_user_ends_only_that_users_sessions(hub: authhub.AuthHub, alice: authhub.User) -> None:
    bob = hub.users.create("bob", "pw")
    sessions = sessions_of(hub)
    alice_ids = [sessions.start(alice)[0] for _ in range(3)]
    bob_id, _ = sessions.start(bob)

    assert sessions.end_all(alice.id) == 3
    assert all(sessions.find(session_id) is None for session_id in alice_ids)
    assert sessions.find(bob_id) is not None
    assert sessions.end_all(alice.id) == 0


def test_purge_deletes_idle_and_too_old_sessions(make_hub) -> None:
    hub = make_hub(session={"idle_timeout": 60, "absolute_lifetime": 3600})
    alice = hub.users.create("alice", "pw")
    sessions = sessions_of(hub)
    now = utcnow()
    fresh_id, _ = sessions.start(alice)
    idle = _session(alice, session_id_digest("i" * 43), now - dt.timedelta(seconds=300),
                    now - dt.timedelta(seconds=120))
    too_old = _session(alice, session_id_digest("o" * 43), now - dt.timedelta(seconds=7200), now)
    for session in (idle, too_old):
        sessions.store.add(session, 3600)

    assert sessions.purge() == 2
    assert sessions.find(fresh_id) is not None
    assert sessions.find("i" * 43) is None
    assert sessions.find("o" * 43) is None
    assert sessions.purge() == 0


def test_sessions_of_a_deleted_user_row_are_found_no_more(make_sql_hub) -> None:
    # No foreign key since authhub_session_0002 (users may live elsewhere): the joined read finds nothing.
    hub = make_sql_hub()
    alice = hub.users.create("alice", "pw")
    session_id, _ = sessions_of(hub).start(alice)
    with hub.store.connect() as connection:
        connection.execute(sa.text("DELETE FROM authhub_user WHERE id = :id"), {"id": alice.id})
    assert sessions_of(hub).find(session_id) is None


@pytest.mark.redis
def test_redis_sessions_expire_on_their_own(make_redis_hub, authhub_redis_url: str) -> None:
    hub = make_redis_hub(session={"idle_timeout": 100, "absolute_lifetime": 1000})
    alice = hub.users.create("alice", "pw")
    sessions = sessions_of(hub)
    _, session = sessions.start(alice)
    store = sessions.store
    assert isinstance(store, RedisSessionStore)
    session_key, index_key = f"{store.prefix}s:{session.digest}", f"{store.prefix}u:{alice.id}"
    client = redis.Redis.from_url(authhub_redis_url)
    try:
        assert 95 <= client.ttl(session_key) <= 101  # the idle timeout, the shorter of the two
        assert 95 <= client.ttl(index_key) <= 101
        store.touch(session, utcnow(), 500)  # activity keeps the session and its index entry
        assert 495 <= client.ttl(session_key) <= 500
        assert 495 <= client.ttl(index_key) <= 500
    finally:
        client.close()


def test_unreachable_redis_is_503(authhub_make_hub) -> None:
    hub = authhub_make_hub(schemes=["session"], session={"redis_url": "redis://127.0.0.1:1/0"})
    alice = hub.users.create("alice", "pw")
    with pytest.raises(authhub.StoreUnavailable):
        sessions_of(hub).start(alice)
    request = authhub.Request("GET", "/", [("cookie", "authhub_session=" + "a" * 43)], hub=hub)
    with pytest.raises(authhub.StoreUnavailable) as refused:
        request.identity
    assert refused.value.status_code == 503


@pytest.mark.postgres
def test_unreachable_database_is_503_never_anonymous(authhub_make_hub) -> None:
    hub = authhub_make_hub(upgrade=False, schemes=["session"],
                           database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    request = authhub.Request("GET", "/", [("cookie", "authhub_session=" + "a" * 43)], hub=hub)
    with pytest.raises(authhub.StoreUnavailable):
        request.identity


def test_missing_table_is_503_never_anonymous(authhub_make_hub) -> None:
    hub = authhub_make_hub(upgrade=False, schemes=["session"])
    request = authhub.Request("GET", "/", [("cookie", "authhub_session=" + "a" * 43)], hub=hub)
    with pytest.raises(authhub.StoreUnavailable):
        request.identity
