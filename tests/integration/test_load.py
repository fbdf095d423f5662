"""A bounded load test over loopback against a real ``authhub serve`` process on PostgreSQL.

3,000 requests from eight threads, every scheme, good and bad credentials
and anonymous ones mixed: zero 5xx, zero wrong identities, the server's
memory stable, database connections bounded and given back.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from authhub.testing import FAST_HASHING
from authhub.testservers import free_port

from .conftest import SCHEMES, World, basic, make_world

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOTAL = 3000
THREADS = 8
TIME_LIMIT = 120.0
MiB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Server:
    """``authhub serve`` in a subprocess on a free loopback port."""

    def __init__(self, directory: Path, database_url: str) -> None:
        self.port = free_port()
        self.log = directory / "serve.log"
        environ = {
            **os.environ,
            "AUTHHUB_DATABASE_URL": database_url,
            "AUTHHUB_SCHEMES": ",".join(SCHEMES),
            # The lockout runs (every bad credential is counted, every good one clears its pair), with
            # thresholds above what 3,000 requests from one address reach: locking out is not this test's subject.
            "AUTHHUB_LOCKOUT_THRESHOLD": "1000000",
            "AUTHHUB_LOCKOUT_BACKOFF_AFTER": "1000000",
            "AUTHHUB_LOCKOUT_GLOBAL_THRESHOLD": "1000000",
            # The seeded hashes are cheap; the server's dummy hash for unknown users and any rehash on
            # login follow these (the defaults, 64 MiB and 3 passes, would make this a benchmark of argon2).
            **{f"AUTHHUB_{key.upper()}": str(value) for key, value in FAST_HASHING.items()},
        }
        command = [str(Path(sys.executable).parent / "authhub"), "serve", "--port", str(self.port), "--threads", "8"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=directory, env=environ, stdout=log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.base}/whoami", timeout=1)
                break
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"authhub serve did not start:\n{self.log.read_text()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def served(authhub_postgres_url: str, tmp_path: Path) -> Iterator[tuple[World, Server, str]]:
    world = make_world(tmp_path, database_url=authhub_postgres_url)
    server = Server(tmp_path, authhub_postgres_url)
    yield world, server, authhub_postgres_url
    server.stop()
    world.hub.close()


def plan(world: World, count: int, seed: int) -> list[tuple[dict[str, str], int, str | None]]:
    """``count`` requests: (headers, expected status, expected user)."""
    chooser = random.Random(seed)
    people = list(world.people.values())
    requests: list[tuple[dict[str, str], int, str | None]] = []
    for _ in range(count):
        person = chooser.choice(people)
        kind = chooser.random()
        if kind < 0.5:
            requests.append((person.headers(chooser.choice(SCHEMES)), 200, person.username))
        elif kind < 0.6:
            requests.append(({"Authorization": basic(person.username, "wrong")}, 401, None))
        elif kind < 0.7:
            requests.append(({"Authorization": f"Token {person.token[:-2]}00"}, 401, None))
        elif kind < 0.8:
            requests.append(({"Authorization": f"Bearer {person.bearer[:-3]}abc"}, 401, None))
        elif kind < 0.9:
            requests.append(({"Cookie": f"authhub_session={person.session_id[:-3]}abc"}, 200, None))
        else:
            requests.append(({}, 200, None))
    return requests


def run(base: str, requests: list[tuple[dict[str, str], int, str | None]]) -> tuple[Counter[int], list[Any]]:
    """Send ``requests`` from THREADS threads; return the statuses and every wrong answer."""
    statuses: Counter[int] = Counter()
    wrong: list[Any] = []
    lock = threading.Lock()

    def worker(share: list[tuple[dict[str, str], int, str | None]]) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            for headers, status, user in share:
                response = client.get("/whoami", headers=headers)
                body = response.json()
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code != status or (status == 200 and body["user"] != user):
                        wrong.append((status, user, response.status_code, body))

    threads = [threading.Thread(target=worker, args=(requests[index::THREADS],)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIME_LIMIT)
    return statuses, wrong


def database_connections(url: str) -> Counter[str]:
    """The test database's connections by state (``idle``, ``active``, ``idle in transaction``, ...)."""
    database = make_url(url).database
    engine = sa.create_engine(make_url(url).set(database="postgres"), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT state FROM pg_stat_activity WHERE datname = :name"),
                                  {"name": database}).scalars().all()
    engine.dispose()
    return Counter(str(state) for state in rows)


def test_three_thousand_mixed_requests(served: tuple[World, Server, str]) -> None:
    world, server, url = served
    pid = server.process.pid
    run(server.base, plan(world, 300, seed=0))  # warm up: imports, pools, caches
    rss_start = rss(pid)
    requests = plan(world, TOTAL, seed=1)
    half = TOTAL // 2

    started = time.monotonic()
    first, wrong_first = run(server.base, requests[:half])
    rss_middle = rss(pid)
    connections_middle = database_connections(url)
    second, wrong_second = run(server.base, requests[half:])
    elapsed = time.monotonic() - started
    rss_end = rss(pid)
    time.sleep(0.5)
    connections_end = database_connections(url)

    statuses = first + second
    print(f"\nload: {TOTAL} requests in {elapsed:.2f} s = {TOTAL / elapsed:.0f} req/s from {THREADS} threads; "
          f"statuses {dict(sorted(statuses.items()))}; server RSS start {rss_start / MiB:.1f} MiB, "
          f"middle {rss_middle / MiB:.1f} MiB, end {rss_end / MiB:.1f} MiB; "
          f"database connections middle {dict(connections_middle)}, end {dict(connections_end)}")
    assert sum(statuses.values()) == TOTAL
    assert elapsed < TIME_LIMIT
    assert not any(status >= 500 for status in statuses), statuses
    assert wrong_first + wrong_second == []
    assert statuses[200] > TOTAL // 2 and statuses[401] > TOTAL // 10
    # Memory: stable within a generous bound (no growth per request).
    assert rss_end - rss_start < 40 * MiB
    assert rss_end - rss_middle < 20 * MiB
    # Connections: bounded by the pools (the core's 5 + 10 overflow, the kept connections of the
    # token and user lookups, this test's seeding hub), whatever the number of requests.
    assert connections_middle.total() <= 60 and connections_end.total() <= 60
    # Given back: between requests no connection is left inside a transaction.
    assert connections_end["idle in transaction"] == connections_end["idle in transaction (aborted)"] == 0
    assert server.process.poll() is None
