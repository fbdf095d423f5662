"""``authhub sessions ...`` as a user runs it: the installed command line, in a real process."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

import authhub
from authhub.testing import hub_for_tests
from authhub_session.scheme import session_id_digest
from authhub_session.stores import SessionData, utcnow

from .conftest import sessions_of


def run(directory: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTHHUB_")}
    env["AUTHHUB_DATABASE_URL"] = f"sqlite:///{directory / 'authhub.db'}"
    env["AUTHHUB_SCHEMES"] = "session"
    env.update({f"AUTHHUB_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run([sys.executable, "-m", "authhub", *args], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=60)


def hub_in(directory: Path) -> authhub.AuthHub:
    hub = hub_for_tests(directory, schemes=["session"])
    hub.upgrade()
    return hub


def test_purge_deletes_expired_sessions(tmp_path: Path) -> None:
    hub = hub_in(tmp_path)
    alice = hub.users.create("alice", "pw")
    sessions = sessions_of(hub)
    live_id, _ = sessions.start(alice)
    now = utcnow()
    sessions.store.add(SessionData(session_id_digest("E" * 43), str(alice.id), "c" * 43,
                                   now - dt.timedelta(hours=1), now - dt.timedelta(hours=1)), 3600)

    result = run(tmp_path, "sessions", "purge")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "purged 1 expired session"
    assert sessions.find("E" * 43) is None
    assert sessions.find(live_id) is not None
    again = run(tmp_path, "sessions", "purge")
    assert again.stdout.strip() == "purged 0 expired sessions"
    hub.close()


def test_end_a_users_sessions(tmp_path: Path) -> None:
    hub = hub_in(tmp_path)
    alice = hub.users.create("alice", "pw")
    ids = [sessions_of(hub).start(alice)[0] for _ in range(2)]

    result = run(tmp_path, "sessions", "end", "alice")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ended 2 sessions of 'alice'"
    assert all(sessions_of(hub).find(session_id) is None for session_id in ids)
    unknown = run(tmp_path, "sessions", "end", "nobody")
    assert unknown.returncode == 1
    assert "no user named 'nobody'" in unknown.stderr
    hub.close()


def test_purge_with_an_unreachable_redis_fails_clearly(tmp_path: Path) -> None:
    result = run(tmp_path, "sessions", "purge", session_redis_url="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert "Authentication store unavailable." in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.redis
def test_purge_on_redis(tmp_path: Path, authhub_redis_url: str, redis_prefix: str) -> None:
    hub = hub_for_tests(tmp_path, schemes=["session"],
                        session={"redis_url": authhub_redis_url, "redis_prefix": redis_prefix})
    hub.upgrade()
    alice = hub.users.create("alice", "pw")
    sessions = sessions_of(hub)
    now = utcnow()
    sessions.store.add(SessionData(session_id_digest("E" * 43), str(alice.id), "c" * 43,
                                   now - dt.timedelta(hours=13), now), 3600)
    live_id, _ = sessions.start(alice)

    result = run(tmp_path, "sessions", "purge", session_redis_url=authhub_redis_url,
                 session_redis_prefix=redis_prefix)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "purged 1 expired session"
    assert sessions.find("E" * 43) is None
    assert sessions.find(live_id) is not None
    hub.close()
