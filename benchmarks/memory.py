"""Memory: the peak RSS of a process authenticating 100,000 token requests.

Runs in a fresh Python process so nothing else of the benchmark run is
counted: it imports authhub, opens the hub, authenticates once, notes its
RSS, then authenticates 100,000 requests and reports its peak (VmHWM).
A peak close to the RSS after set-up means nothing grows per request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REQUESTS = 100_000


def rss_mib(pid: int | str = "self") -> tuple[float, float]:
    """``(current RSS, peak RSS)`` of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def authenticating_process(database: Path, key: str, requests: int = REQUESTS) -> dict[str, Any]:
    result = subprocess.run([sys.executable, __file__, str(database), key, str(requests)], capture_output=True,
                            text=True, check=True, timeout=600)
    return json.loads(result.stdout)


def _child(database: str, key: str, requests: int) -> None:
    import time

    from authhub import AuthHub, Request

    hub = AuthHub(directory=Path(database).parent, environ={}, database_url=f"sqlite:///{database}",
                  schemes=["token"])
    headers = [("host", "api.example"), ("authorization", f"Token {key}")]
    assert Request("GET", "/", headers, hub=hub).user.username == "bench"
    before, _ = rss_mib()
    start = time.perf_counter()
    for _ in range(requests):
        Request("GET", "/", headers, hub=hub).user
    elapsed = time.perf_counter() - start
    _, peak = rss_mib()
    print(json.dumps({"requests": requests, "rss_before_mib": before, "peak_rss_mib": peak,
                      "seconds": elapsed, "per_request_us": elapsed / requests * 1e6}))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
