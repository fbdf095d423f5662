"""How soon another process refuses what one process cut off: two ``authhub serve`` processes on one store.

Both servers run the real command with the token and session schemes and
their default settings (caches on). Each trial warms server B's caches
with a credential (three authenticated requests), makes the change, and
then asks B every millisecond until it refuses: the figure is the time
from the change's return to B's first refusal.

- revocation: ``authhub_token.revoke_token`` in this process;
- logout: ``POST /logout`` on server A with the session's cookie and CSRF token;
- deactivation: ``hub.users.deactivate`` in this process (the user's token on B).

On three channels: a SQLite file (B watches ``PRAGMA data_version``),
PostgreSQL (``LISTEN``/``NOTIFY``) and Redis (``changes_redis_url``, a
stream). Every request goes to 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from http_load import _free_port, _wait_until_up

TRIALS = 15
#: The longest a trial waits for a refusal (a miss is reported as this, and fails the target).
GIVE_UP = 2.0
SCHEMES = "token,session"
FAST = {"password_time_cost": 1, "password_memory_cost": 8, "password_parallelism": 1}


def _serve(run_dir: Path, database_url: str, redis_url: str | None) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    environ = {name: value for name, value in os.environ.items() if not name.startswith("AUTHHUB_")}
    environ.update(AUTHHUB_DATABASE_URL=database_url, AUTHHUB_SCHEMES=SCHEMES)
    if redis_url:
        environ["AUTHHUB_CHANGES_REDIS_URL"] = redis_url
    log = (run_dir / f"propagation-{port}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "authhub", "serve", "--port", str(port)], cwd=run_dir,
                               env=environ, stdout=log, stderr=subprocess.STDOUT)
    _wait_until_up(port, process)
    return process, port


def _whoami(port: int, headers: dict[str, str]) -> tuple[int, bool]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/whoami", headers=headers)
        response = connection.getresponse()
        body = response.read()
        authenticated = response.status == 200 and json.loads(body)["authenticated"]
        return response.status, bool(authenticated)
    finally:
        connection.close()


def _post(port: int, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("POST", path, body=b"", headers={
            **headers, "Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _warm(port: int, headers: dict[str, str]) -> None:
    for _ in range(3):
        status, authenticated = _whoami(port, headers)
        assert authenticated, f"server B did not accept the fresh credential ({status})"


def _until_refused(port: int, headers: dict[str, str], started: float) -> float:
    """Milliseconds from ``started`` to B's first refusal (``GIVE_UP`` seconds when it never came)."""
    while time.perf_counter() - started < GIVE_UP:
        if not _whoami(port, headers)[1]:
            return (time.perf_counter() - started) * 1e3
        time.sleep(0.001)
    return GIVE_UP * 1e3


def _trials(make: Callable[[int], Callable[[], float]]) -> list[float]:
    return [make(trial)() for trial in range(TRIALS)]


def measure(run_dir: Path, label: str, database_url: str, redis_url: str | None) -> list[dict[str, Any]]:
    """Every kind of change on one channel; rows of median and max milliseconds."""
    import authhub_token
    from authhub import AuthHub

    settings: dict[str, Any] = {"database_url": database_url, "schemes": SCHEMES.split(","), **FAST}
    if redis_url:
        settings["changes_redis_url"] = redis_url
    hub = AuthHub(directory=run_dir, environ={}, **settings)
    hub.upgrade()
    servers = [_serve(run_dir, database_url, redis_url) for _ in range(2)]
    (_, port_a), (_, port_b) = servers
    try:
        assert hub.changes.wait_until_current(10)

        def revocation(trial: int) -> Callable[[], float]:
            name = f"prop-revoke-{label}-{trial}-{os.getpid()}"
            hub.users.create(name, "pw")
            new = authhub_token.create_token(hub, name)
            headers = {"Authorization": f"Token {new.key}"}
            _warm(port_b, headers)

            def change() -> float:
                authhub_token.revoke_token(hub, new.token.id)
                return _until_refused(port_b, headers, time.perf_counter())

            return change

        def logout(trial: int) -> Callable[[], float]:
            name = f"prop-logout-{label}-{trial}-{os.getpid()}"
            made = hub.auth_headers("session", hub.users.create(name, "pw"))
            assert made is not None
            cookie = {"Cookie": made["Cookie"]}
            _warm(port_b, cookie)

            def change() -> float:
                started = time.perf_counter()
                status = _post(port_a, "/logout", {**cookie, "X-CSRF-Token": made["X-CSRF-Token"]})
                assert status in (200, 303), f"logout on server A answered {status}"
                return _until_refused(port_b, cookie, started)

            return change

        def deactivation(trial: int) -> Callable[[], float]:
            name = f"prop-deactivate-{label}-{trial}-{os.getpid()}"
            hub.users.create(name, "pw")
            headers = {"Authorization": f"Token {authhub_token.create_token(hub, name).key}"}
            _warm(port_b, headers)

            def change() -> float:
                hub.users.deactivate(name)
                return _until_refused(port_b, headers, time.perf_counter())

            return change

        rows = []
        for change, make in (("revocation", revocation), ("logout", logout), ("deactivation", deactivation)):
            times = _trials(make)
            rows.append({"change": change, "channel": label, "median_ms": statistics.median(times),
                         "max_ms": max(times), "trials": times})
        return rows
    finally:
        for process, _ in servers:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        hub.close()


def run(run_dir: Path, sqlite_database: Path, *, postgres_url: str | None, redis_url: str | None) -> dict[str, Any]:
    """The three channels (those available); ``sqlite_database`` is a copy of the run's database."""
    rows = measure(run_dir, "SQLite", f"sqlite:///{sqlite_database}", None)
    if postgres_url:
        rows += measure(run_dir, "PostgreSQL", postgres_url, None)
    if redis_url:
        rows += measure(run_dir, "Redis", f"sqlite:///{sqlite_database}", redis_url)
    lines = [f"propagation: two `authhub serve` processes (token, session; default settings), {TRIALS} trials each; "
             "ms from the change to the other server's first refusal:"]
    lines += [f"  {row['change']:<13} {row['channel']:<11} median {row['median_ms']:6.1f} ms, "
              f"max {row['max_ms']:6.1f} ms" for row in rows]
    return {"rows": rows, "lines": lines}
