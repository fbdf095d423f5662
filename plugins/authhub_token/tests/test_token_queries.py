"""The database side of the request path: one indexed query that brings the user, none for a bad checksum.

Counting what a request asks the database needs every request to ask it: these
hubs turn the cache off (``cache_ttl = 0``); test_token_cache counts the hits.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

import authhub_token
from authhub_token.keys import generate_key

from .conftest import Statements, refusal, request, scheme_of

NO_CACHE = {"cache_ttl": 0.0}


def test_a_mistyped_or_truncated_key_never_reaches_the_database(make_hub):
    hub = make_hub(token={"last_used_interval": None, **NO_CACHE})
    hub.users.create("alice", "pw")
    key = authhub_token.create_token(hub, "alice").key
    statements = Statements(hub)
    changed = key[:30] + ("x" if key[30] != "x" else "y") + key[31:]
    for bad in (changed, key[:-1], key[:20], "ahk_" + "0" * 51):
        assert refusal(hub, f"Token {bad}").detail == "Invalid token."
    assert statements.seen == []
    # The counter does see the request path's query: a good key costs exactly one.
    assert hub.authenticate(request(hub, f"Token {key}")).user.username == "alice"
    assert len(statements.seen) == 1


def test_a_good_key_costs_one_select_joining_the_user(make_hub):
    hub = make_hub(token={"last_used_interval": None, **NO_CACHE})
    hub.users.create("alice", "pw")
    key = authhub_token.create_token(hub, "alice").key
    statements = Statements(hub)
    for _ in range(3):
        statements.clear()
        identity = hub.authenticate(request(hub, f"Token {key}"))
        assert identity.user.username == "alice" and identity.user.is_active
        assert len(statements.seen) == 1
        (sql,) = statements.selects()
        assert "JOIN authhub_user" in sql and "authhub_token.digest" in sql


def test_an_unknown_well_formed_key_costs_one_token_select_plus_the_lockout(make_hub):
    # An unknown key is never cached, whatever the settings: the defaults here.
    hub = make_hub()
    hub.users.create("alice", "pw")
    statements = Statements(hub)
    assert refusal(hub, f"Token {generate_key()}").detail == "Invalid token."
    token_selects = [sql for sql in statements.selects() if "authhub_token" in sql]
    assert len(token_selects) == 1
    # Everything else is the lockout's bookkeeping (a guessed key counts towards it).
    others = [sql for sql in statements.seen if "authhub_token" not in sql]
    assert others and all("authhub_attempt" in sql or sql.strip().upper() in ("BEGIN", "COMMIT", "ROLLBACK")
                          for sql in others)

    quiet = make_hub(lockout_enabled=False)
    statements = Statements(quiet)
    assert refusal(quiet, f"Token {generate_key()}").detail == "Invalid token."
    assert len(statements.selects()) == 1 and len(statements.seen) == 1


def test_the_lookup_uses_the_unique_digest_index(hub, alice):
    with hub.store.connect() as connection:
        plan = connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + _lookup_sql(hub), (b"\0" * 32,)
        ).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "uq_authhub_token_digest" in details or "sqlite_autoindex_authhub_token" in details, details
    assert "SCAN" not in details, details


def _lookup_sql(hub):
    return scheme_of(hub).lookup.sql


def test_last_used_at_is_written_at_most_once_per_interval(make_hub):
    # With the cache on, a hit writes nothing at all: the next miss (within cache_ttl) records the use.
    hub = make_hub(token={"last_used_interval": 60, **NO_CACHE})
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice")
    assert authhub_token.list_tokens(hub)[0].last_used_at is None
    statements = Statements(hub)
    hub.authenticate(request(hub, f"Token {new.key}"))
    first = authhub_token.list_tokens(hub)[0].last_used_at
    assert first is not None
    assert dt.datetime.now(dt.timezone.utc) - first < dt.timedelta(seconds=10)
    statements.clear()
    for _ in range(5):
        hub.authenticate(request(hub, f"Token {new.key}"))
    assert not [s for s in statements.seen if s.lstrip().upper().startswith("UPDATE")]
    assert authhub_token.list_tokens(hub)[0].last_used_at == first
    # Once the interval has passed, the next request writes again.
    table = authhub_token.Token.__table__
    old = first - dt.timedelta(minutes=5)
    with hub.store.connect() as connection:
        connection.execute(sa.update(table).values(last_used_at=old))
    statements.clear()
    hub.authenticate(request(hub, f"Token {new.key}"))
    assert len([s for s in statements.seen if s.lstrip().upper().startswith("UPDATE")]) == 1
    assert authhub_token.list_tokens(hub)[0].last_used_at > first


def test_last_used_at_can_be_switched_off(make_hub):
    hub = make_hub(token={"last_used_interval": None})
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice")
    hub.authenticate(request(hub, f"Token {new.key}"))
    assert authhub_token.list_tokens(hub)[0].last_used_at is None
