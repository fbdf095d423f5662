"""Over HTTP: ``authhub serve`` (the reference app under waitress) on loopback, with and without a token.

The server is the real command, ``python -m authhub serve``, on the
run's copy of the 10,000-user database with the token scheme as its chain
and its default 8 threads. The load is ``wrk`` (Debian's package) with one
thread and 8 connections, or a small Python generator when ``wrk`` is not
installed; every load is bounded in time and only ever sent to 127.0.0.1.
Authenticated and unauthenticated rounds alternate (A B A B ...) after a
warm-up; requests/s and latencies are the medians of each kind's rounds,
and the share kept is the median of the per-round ratios A/B.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from memory import rss_mib

CONNECTIONS = 8
ROUNDS = 5
PATH = "/whoami"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"authhub serve exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", PATH)
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("authhub serve did not answer in time")


def _wrk(port: int, seconds: float, headers: dict[str, str]) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, f"http://127.0.0.1:{port}{PATH}"], capture_output=True, text=True,
                            check=True, timeout=seconds + 30).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw error responses:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    p99 = _duration(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))
    p50 = _duration(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "requests": requests}


def _duration(text: str) -> float:
    """wrk's ``123.45us`` / ``1.23ms`` / ``1.02s`` in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def _python_load(port: int, seconds: float, headers: dict[str, str]) -> dict[str, float]:
    """The fallback: ``CONNECTIONS`` keep-alive connections in threads, bounded by ``seconds``."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < deadline:
            start = time.perf_counter()
            connection.request("GET", PATH, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
            mine.append(time.perf_counter() - start)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2] * 1e3,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3, "requests": len(latencies)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(load: Any, pid: int, port: int, seconds: float, headers: dict[str, str]) -> dict[str, float]:
    """One round of load, with the server's CPU time per request."""
    before = cpu_seconds(pid)
    result = load(port, seconds, headers)
    result["server_cpu_us"] = (cpu_seconds(pid) - before) / result["requests"] * 1e6
    return result


def _serve_and_load(run_dir: Path, database_url: str, authenticated: dict[str, str], seconds: float,
                    warm_up: float, load: Any, settings: dict[str, str]) -> dict[str, Any]:
    """Start ``authhub serve`` with ``settings`` (``AUTHHUB_*`` variables), load it, stop it."""
    port = _free_port()
    environ = {name: value for name, value in os.environ.items() if not name.startswith("AUTHHUB_")}
    environ.update(AUTHHUB_DATABASE_URL=database_url, **settings)
    log = (run_dir / f"serve-{port}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "authhub", "serve", "--port", str(port)], cwd=run_dir,
                               env=environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(port, process)
        rss_idle, _ = rss_mib(process.pid)
        load(port, warm_up, authenticated)
        load(port, warm_up, {})
        rounds: dict[str, list[dict[str, float]]] = {"authenticated": [], "unauthenticated": []}
        for _ in range(ROUNDS):
            rounds["authenticated"].append(_measured(load, process.pid, port, seconds, authenticated))
            rounds["unauthenticated"].append(_measured(load, process.pid, port, seconds, {}))
        rss_now, rss_peak = rss_mib(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()

    def summary(kind: str) -> dict[str, Any]:
        runs = rounds[kind]
        return {"rps": statistics.median(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "server_cpu_us": statistics.median(r["server_cpu_us"] for r in runs), "rounds": runs}

    pairs = list(zip(rounds["authenticated"], rounds["unauthenticated"], strict=True))
    kept = statistics.median(a["rps"] / u["rps"] for a, u in pairs)
    # Requests per second of the server's own CPU: less disturbed by the load generator and the rest
    # of the machine than requests/s, though contention still changes what waitress spends per request.
    kept_capacity = statistics.median(u["server_cpu_us"] / a["server_cpu_us"] for a, u in pairs)
    return {"authenticated": summary("authenticated"), "unauthenticated": summary("unauthenticated"), "kept": kept,
            "kept_capacity": kept_capacity,
            "server_rss_idle_mib": rss_idle, "server_rss_after_mib": rss_now, "server_peak_rss_mib": rss_peak}


def _session_cookie(run_dir: Path, database: Path) -> dict[str, str]:
    """A session of the benchmark user, started in the run's database through the public API."""
    from fixtures import USERNAME

    from authhub import AuthHub

    hub = AuthHub(directory=run_dir, environ={}, database_url=f"sqlite:///{database}", schemes=["session"])
    try:
        made = hub.auth_headers("session", hub.users.get_by_username(USERNAME))
        assert made is not None
        return {"Cookie": made["Cookie"]}
    finally:
        hub.close()


def run(run_dir: Path, database: Path, key: str, *, quick: bool = False,
        postgres: tuple[str, str] | None = None) -> dict[str, Any]:
    """Every over-HTTP case; ``postgres``: ``(database URL, token key)`` of a filled PostgreSQL database."""
    seconds = 1.0 if quick else 3.0
    warm_up = 1.0 if quick else 2.0
    load = _wrk if shutil.which("wrk") else _python_load
    tool = "wrk -t1 -c8" if load is _wrk else f"python load generator, {CONNECTIONS} connections"
    sqlite_url = f"sqlite:///{database}"
    token = {"Authorization": f"Token {key}"}
    cases: dict[str, tuple[str, str, dict[str, str], dict[str, str]]] = {
        "token": ("token on SQLite (default settings: cache on)", sqlite_url, token, {"AUTHHUB_SCHEMES": "token"}),
        "token_no_cache": ("token on SQLite, token.cache_ttl = 0", sqlite_url, token,
                           {"AUTHHUB_SCHEMES": "token", "AUTHHUB_TOKEN_CACHE_TTL": "0"}),
        "session": ("session cookie on SQLite (default settings: cache on)", sqlite_url,
                    _session_cookie(run_dir, database), {"AUTHHUB_SCHEMES": "session"}),
    }
    if postgres is not None:
        cases["token_postgres"] = ("token on PostgreSQL (default settings: cache on)", postgres[0],
                                   {"Authorization": f"Token {postgres[1]}"}, {"AUTHHUB_SCHEMES": "token"})
    lines = [f"over HTTP ({tool}, {ROUNDS} alternating rounds of {seconds:.0f} s per kind, GET {PATH}, "
             f"`authhub serve` = waitress with 8 threads):"]
    results: dict[str, Any] = {"tool": tool, "seconds_per_round": seconds}
    for name, (label, url, headers, settings) in cases.items():
        result = _serve_and_load(run_dir, url, headers, seconds, warm_up, load, settings)
        results[name] = result
        auth, anon = result["authenticated"], result["unauthenticated"]
        lines += [
            f"  [{label}] authenticated: {auth['rps']:,.0f} req/s, p50 {auth['p50_ms']:.2f} ms, "
            f"p99 {auth['p99_ms']:.2f} ms; unauthenticated: {anon['rps']:,.0f} req/s, p50 {anon['p50_ms']:.2f} ms, "
            f"p99 {anon['p99_ms']:.2f} ms; authenticated keeps {result['kept'] * 100:.1f}% of the requests/s",
            f"  [{label}] server CPU per request: authenticated {auth['server_cpu_us']:.0f} µs, unauthenticated "
            f"{anon['server_cpu_us']:.0f} µs; authenticated keeps {result['kept_capacity'] * 100:.1f}% of the "
            "requests per CPU-second",
            f"  [{label}] server RSS {result['server_rss_idle_mib']:.1f} MiB idle, "
            f"{result['server_rss_after_mib']:.1f} MiB after the load, peak {result['server_peak_rss_mib']:.1f} MiB",
        ]
    results["lines"] = lines
    return results
