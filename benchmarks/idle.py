"""What the invalidation channel costs a process that serves nothing: its listener's CPU per second.

Every hub with a cache listens for announcements in a thread of its own
(:mod:`authhub.changes`): on SQLite it reads ``PRAGMA data_version`` every
``changes_poll_interval`` (10 ms), on PostgreSQL it waits on ``LISTEN``,
on Redis on ``XREAD BLOCK``. That is a cost per process, paid whether
requests come or not, so it is measured apart from the per-request cases
(which the harness times by their own thread's CPU): a fresh process
builds one hub, waits until its channel is current, then sleeps, and
reports the process's CPU time over that sleep.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SECONDS = 3.0


def _child(database_url: str, redis_url: str | None, seconds: float) -> None:
    from authhub import AuthHub

    settings: dict[str, Any] = {"database_url": database_url}
    if redis_url:
        settings["changes_redis_url"] = redis_url
    hub = AuthHub(directory=Path(tempfile.mkdtemp()), environ={}, schemes=["token"], **settings)
    if not hub.changes.wait_until_current(10.0):
        raise SystemExit("the channel never became current")
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    hub.close()
    print(json.dumps({"cpu_ms_per_s": cpu / wall * 1000}))


def measure(database_url: str, redis_url: str | None = None, seconds: float = SECONDS) -> float:
    """The listener's CPU in milliseconds per second of an idle process with one hub."""
    command = [sys.executable, __file__, database_url, redis_url or "", str(seconds)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return float(json.loads(output.strip().splitlines()[-1])["cpu_ms_per_s"])


def run(sqlite_url: str, postgres_url: str | None, redis_url: str | None, quick: bool = False) -> dict[str, Any]:
    """The idle cost on each channel this run can reach."""
    seconds = 1.0 if quick else SECONDS
    channels = {"SQLite (data_version poll)": (sqlite_url, None)}
    if postgres_url:
        channels["PostgreSQL (LISTEN)"] = (postgres_url, None)
    if redis_url:
        channels["Redis (XREAD BLOCK)"] = (sqlite_url, redis_url)
    figures = {label: measure(database, redis, seconds) for label, (database, redis) in channels.items()}
    lines = [f"  idle process, one hub: the invalidation listener costs {figure:.1f} ms of CPU per second "
             f"({figure / 10:.2f}% of a core) on {label}" for label, figure in figures.items()]
    return {"cpu_ms_per_s": figures, "lines": ["invalidation listener, idle:", *lines]}


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2] or None, float(sys.argv[3]))
