"""Token authentication from 1 and from 8 threads at once: the CPU each authentication costs.

A threaded server (waitress runs ``authhub serve`` with 8 threads) runs
the token lookup from many threads. ``sqlite3`` lets go of the GIL around
each step of a query, and with other threads waiting every let-go is a
hand-over: CPU spent on switching, not on the query. This measures that
cost in-process, without a server or a load generator in the way: the
process's CPU time per authentication with all threads busy, rounds with
1 and with 8 threads alternating, medians of the rounds.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

from cases_authhub import hub_for

from authhub import Request

AUTHENTICATIONS = 16_000
ROUNDS = 5
THREADS = (1, 8)


def _round(hub: Any, headers: list[tuple[str, str]], threads: int) -> float:
    """CPU seconds per authentication with ``threads`` threads sharing ``AUTHENTICATIONS``."""
    each = AUTHENTICATIONS // threads

    def work() -> None:
        for _ in range(each):
            Request("GET", "/", headers, hub=hub).user

    workers = [threading.Thread(target=work) for _ in range(threads)]
    start = time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.process_time() - start) / (each * threads)


def run(run_dir: Path, database: Path, key: str, *, quick: bool = False) -> dict[str, Any]:
    headers = [("host", "api.example"), ("authorization", f"Token {key}")]
    results: dict[str, Any] = {}
    lines = ["token authentication from concurrent threads (process CPU per authentication, median of "
             f"{ROUNDS} rounds):"]
    for label, settings in (("token", {}), ("token + cache", {"token": {"cache_ttl": 300.0}})):
        hub = hub_for(run_dir, database, schemes=["token"], **settings)
        assert Request("GET", "/", headers, hub=hub).user.username == "bench"
        samples: dict[int, list[float]] = {count: [] for count in THREADS}
        for _ in range(2 if quick else ROUNDS):
            for count in THREADS:
                samples[count].append(_round(hub, headers, count))
        medians = {count: statistics.median(values) for count, values in samples.items()}
        results[label] = {f"{count}_threads_us": medians[count] * 1e6 for count in THREADS}
        lines.append(f"  [{label}] " + ", ".join(f"{count} thread{'s' if count > 1 else ''}: "
                                                 f"{medians[count] * 1e6:.1f} µs" for count in THREADS)
                     + f" ({medians[THREADS[-1]] / medians[THREADS[0]]:.2f}x)")
        hub.close()
    results["lines"] = lines
    return results
