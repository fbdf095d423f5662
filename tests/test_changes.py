"""The invalidation channel: announcements reach every hub on the store, and caches fail closed without it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import authhub
from authhub.testing import hub_for_tests
from authhub.testservers import PostgresServer, RedisServer

BOUND = 2.0  # seconds: generous, so CI never flakes; the benchmarks report the real figures


class Heard:
    """A plugin that records what the channel tells its hub."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []
        self.event = threading.Event()

    @authhub.hookimpl
    def invalidated(self, kind: str, key: str) -> None:
        self.heard.append((kind, key))
        self.event.set()

    def wait_for(self, item: tuple[str, str], timeout: float = BOUND) -> bool:
        deadline = time.monotonic() + timeout
        while item not in self.heard:
            if time.monotonic() > deadline:
                return False
            self.event.wait(0.01)
            self.event.clear()
        return True


def two_hubs(directory: Path, **settings: Any) -> tuple[authhub.AuthHub, Heard, authhub.AuthHub, Heard]:
    heard_a, heard_b = Heard(), Heard()
    a = hub_for_tests(directory, load_entry_points=False, plugins={"heard": heard_a}, **settings)
    a.upgrade()
    b = hub_for_tests(directory, load_entry_points=False, plugins={"heard": heard_b}, **settings)
    return a, heard_a, b, heard_b


def check_channel(a: authhub.AuthHub, heard_a: Heard, b: authhub.AuthHub, heard_b: Heard) -> None:
    assert a.changes.wait_until_current(BOUND)
    assert b.changes.wait_until_current(BOUND)
    b.invalidate("token", "17")
    assert ("token", "17") in heard_b.heard  # the announcing hub is told at once
    assert heard_a.wait_for(("token", "17")), f"hub a heard only {heard_a.heard}"
    a.invalidate("user", "4")
    assert heard_b.wait_for(("user", "4")), f"hub b heard only {heard_b.heard}"


def test_sqlite_announcements_reach_the_other_hub(tmp_path):
    a, heard_a, b, heard_b = two_hubs(tmp_path)
    try:
        check_channel(a, heard_a, b, heard_b)
    finally:
        a.close()
        b.close()


@pytest.mark.postgres
def test_postgres_announcements_reach_the_other_hub(tmp_path, authhub_postgres_url):
    a, heard_a, b, heard_b = two_hubs(tmp_path, database_url=authhub_postgres_url)
    try:
        check_channel(a, heard_a, b, heard_b)
    finally:
        a.close()
        b.close()


@pytest.mark.redis
def test_redis_announcements_reach_the_other_hub(tmp_path, authhub_redis_url):
    a, heard_a, b, heard_b = two_hubs(tmp_path, changes_redis_url=authhub_redis_url)
    try:
        check_channel(a, heard_a, b, heard_b)
    finally:
        a.close()
        b.close()


def test_not_current_before_it_listens(tmp_path):
    hub = hub_for_tests(tmp_path, load_entry_points=False)
    hub.upgrade()
    try:
        assert hub.changes.current is False  # the first look starts the listener: not caught up yet
        assert hub.changes.wait_until_current(BOUND)
    finally:
        hub.close()
    assert hub.changes.current is False  # closed: caches must not be trusted any more


def test_announcing_without_the_table_is_an_error_not_silence(tmp_path):
    hub = hub_for_tests(tmp_path, load_entry_points=False)  # no upgrade: no authhub_change table
    try:
        with pytest.raises(authhub.StoreUnavailable):
            hub.invalidate("token", "1")
    finally:
        hub.close()


@pytest.mark.redis
@pytest.mark.slow
def test_redis_down_bypasses_caches_and_recovers(tmp_path):
    server = RedisServer()
    server.start()
    a, heard_a, b, _heard_b = two_hubs(tmp_path, changes_redis_url=server.url)
    try:
        assert a.changes.wait_until_current(BOUND)
        server.stop()
        deadline = time.monotonic() + 5
        while a.changes.current and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not a.changes.current, "a hub that lost the channel must stop trusting its caches"
        with pytest.raises(authhub.StoreUnavailable):
            b.invalidate("token", "9")  # the revoker is told it did not get through
        server.start()
        assert a.changes.wait_until_current(10), "the hub recovers by itself"
        b.invalidate("token", "10")
        assert heard_a.wait_for(("token", "10"))
    finally:
        a.close()
        b.close()
        server.stop()


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_restart_catches_up_from_the_log(tmp_path):
    server = PostgresServer()
    server.start()
    a, heard_a, b, _heard_b = two_hubs(tmp_path, database_url=server.url)
    try:
        assert a.changes.wait_until_current(BOUND)
        server.stop()
        deadline = time.monotonic() + 5
        while a.changes.current and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not a.changes.current
        server.start()
        # b announces as soon as the server is back, maybe before a has reconnected:
        # a must find it in the log when it catches up.
        deadline = time.monotonic() + 10
        while True:
            try:
                b.invalidate("session", "abc")
                break
            except authhub.StoreUnavailable:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert heard_a.wait_for(("session", "abc"), timeout=10)
        assert a.changes.wait_until_current(10)
    finally:
        a.close()
        b.close()
        server.destroy()



class Answering(Heard):
    """Hears like :class:`Heard`; a "ping" makes another hub announce a "pong" at once, from the listener's thread."""

    def __init__(self, other: authhub.AuthHub) -> None:
        super().__init__()
        self.other = other

    @authhub.hookimpl
    def invalidated(self, kind: str, key: str) -> None:
        if kind == "ping":
            self.other.invalidate("pong", key)  # committed before this listener goes back to watching
        super().invalidated(kind, key)


def test_sqlite_an_announcement_made_while_the_listener_reads_arrives_at_once(tmp_path):
    # The announcement is committed while this hub's listener is still delivering the
    # previous one: it must notice it on its next look, not at its next heartbeat (1 s).
    b = hub_for_tests(tmp_path, load_entry_points=False)
    b.upgrade()
    answering = Answering(b)
    a = hub_for_tests(tmp_path, load_entry_points=False, plugins={"answering": answering})
    try:
        assert a.changes.wait_until_current(BOUND)
        for number in range(5):
            started = time.monotonic()
            b.invalidate("ping", str(number))
            assert answering.wait_for(("pong", str(number)))
            took = time.monotonic() - started
            assert took < 0.5, f"the pong took {took * 1000:.0f} ms to arrive"
    finally:
        a.close()
        b.close()
