"""The issue's targets, each read from the times of one run."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

import attrs
from harness import Timing


@attrs.frozen
class Target:
    label: str
    measured: str
    value: float
    limit: float
    met: bool

    def as_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def ratio(a: Timing, b: Timing) -> float:
    """``a / b``: the median of the per-round ratios when the two were measured together (interleaved
    batches, so each pair ran at the same moment and a change of load on the machine cancels out),
    else the ratio of the medians."""
    if a.samples and len(a.samples) == len(b.samples) and all(sample > 0 for sample in b.samples):
        return statistics.median(x / y for x, y in zip(a.samples, b.samples, strict=True))
    return a.median / b.median


def _faster(label: str, fast: Timing, slow: Timing, at_least: float) -> Target:
    ratio_ = ratio(slow, fast)
    return Target(label, f"{ratio_:.1f}x faster", ratio_, at_least, ratio_ >= at_least)


def _within(label: str, case: Timing, floor: Timing, at_most: float) -> Target:
    ratio_ = ratio(case, floor)
    return Target(label, f"{ratio_:.2f}x", ratio_, at_most, ratio_ <= at_most)


def _plus(label: str, case: Timing, base: Timing, at_most_us: float) -> Target:
    if case.samples and len(case.samples) == len(base.samples):
        extra = statistics.median(x - y for x, y in zip(case.samples, base.samples, strict=True)) * 1e6
    else:
        extra = (case.median - base.median) * 1e6
    return Target(label, f"+{extra:.2f} µs", extra, at_most_us, extra <= at_most_us)


def _no_more(label: str, case: Timing, other: Timing) -> Target:
    """``case`` costs no more than ``other`` (overheads: either may be near zero, so no ratio is trusted alone)."""
    met = case.median <= other.median
    ratio = case.median / other.median if other.median > 0 else float("inf")
    shown = f"{ratio:.2f}x" if other.median > 0 else "n/a"
    return Target(label, f"{case.median * 1e6:.1f} vs {other.median * 1e6:.1f} µs ({shown})", ratio, 1.0, met)


def evaluate(t: Mapping[str, Timing], extra: Mapping[str, Any]) -> list[Target]:
    """Every target whose cases ran."""
    checks: list[tuple[tuple[str, ...], Any]] = [
        (("authhub token", "DRF TokenAuthentication"),
         lambda: _faster("token >= 10x faster than DRF TokenAuthentication", t["authhub token"],
                         t["DRF TokenAuthentication"], 10)),
        (("authhub token", "knox TokenAuthentication"),
         lambda: _faster("token >= 15x faster than knox", t["authhub token"], t["knox TokenAuthentication"], 15)),
        (("authhub token", "floor: sqlite3 token⋈user join"),
         lambda: _within("token within 5x of the raw sqlite3 join floor", t["authhub token"],
                         t["floor: sqlite3 token⋈user join"], 5)),
        (("authhub token + cache", "floor: dict lookup + sha256"),
         lambda: _plus("token + cache within 3 µs of dict lookup + sha256", t["authhub token + cache"],
                       t["floor: dict lookup + sha256"], 3)),
        (("authhub session", "DRF SessionAuthentication"),
         lambda: _faster("session >= 10x faster than DRF SessionAuthentication", t["authhub session"],
                         t["DRF SessionAuthentication"], 10)),
        (("authhub chain dispatch x4", "floor: pluggy firstresult x4"),
         lambda: _within("chain dispatch x4 <= 1.2x a bare pluggy firstresult call x4",
                         t["authhub chain dispatch x4"], t["floor: pluggy firstresult x4"], 1.2)),
        (("authhub ASGI middleware overhead (token, warm cache)", "Starlette AuthenticationMiddleware overhead"),
         lambda: _plus("ASGI with the token plugin (warm) <= Starlette AuthenticationMiddleware's overhead + 2 µs",
                       t["authhub ASGI middleware overhead (token, warm cache)"],
                       t["Starlette AuthenticationMiddleware overhead"], 2)),
        (("token, PostgreSQL, warm cache", "token, SQLite, warm cache"),
         lambda: _within("warm token request on PostgreSQL <= 1.5x on SQLite", t["token, PostgreSQL, warm cache"],
                         t["token, SQLite, warm cache"], 1.5)),
        (("authhub ASGI middleware overhead (plain scheme)",
          "Starlette AuthenticationMiddleware overhead (threadpool backend)"),
         lambda: _no_more("ASGI middleware overhead <= Starlette's (plain scheme / threadpool backend)",
                          t["authhub ASGI middleware overhead (plain scheme)"],
                          t["Starlette AuthenticationMiddleware overhead (threadpool backend)"])),
        (("authhub WSGI middleware overhead", "Flask-HTTPAuth overhead"),
         lambda: _no_more("WSGI middleware overhead <= Flask-HTTPAuth's", t["authhub WSGI middleware overhead"],
                          t["Flask-HTTPAuth overhead"])),
        (("authhub basic, cheapest argon2 parameters", "floor: argon2-cffi verify, cheapest parameters"),
         lambda: _plus("basic <= argon2 verify + 50 µs (cost around argon2)",
                       t["authhub basic, cheapest argon2 parameters"],
                       t["floor: argon2-cffi verify, cheapest parameters"], 50)),
        (("authhub basic + cache",),
         lambda: Target("basic + cache <= 10 µs", f"{t['authhub basic + cache'].median * 1e6:.1f} µs",
                        t["authhub basic + cache"].median * 1e6, 10, t["authhub basic + cache"].median * 1e6 <= 10)),
    ]
    for backend in ("SQLite", "PostgreSQL"):
        small, large = f"token lookup, {backend}, 10,000 tokens", f"token lookup, {backend}, 1,000,000 tokens"
        checks.append(((small, large), lambda small=small, large=large, backend=backend: _within(
            f"1,000,000 tokens <= 1.3x 10,000 tokens ({backend})", t[large], t[small], 1.3)))
    targets = [check() for names, check in checks if all(name in t for name in names)]
    http = extra.get("http")
    if http:
        for label, key in (("token on SQLite", "token"), ("token on PostgreSQL", "token_postgres"),
                           ("session on SQLite", "session"), ("token, caches off", "token_no_cache")):
            if key not in http:
                continue
            share = http[key]["kept"]
            targets.append(Target(
                f"over HTTP, {label} keeps >= 90% of unauthenticated requests/s",
                f"{share * 100:.1f}% (per server CPU-s: {http[key]['kept_capacity'] * 100:.0f}%)", share, 0.9,
                share >= 0.9))
    propagation = extra.get("propagation")
    if propagation:
        for row in propagation["rows"]:
            label = f"{row['change']} refused by another process ({row['channel']})"
            targets.append(Target(f"{label}: max <= 250 ms", f"{row['max_ms']:.1f} ms", row["max_ms"], 250,
                                  row["max_ms"] <= 250))
            targets.append(Target(f"{label}: median <= 50 ms", f"{row['median_ms']:.1f} ms", row["median_ms"], 50,
                                  row["median_ms"] <= 50))
    return targets


def comparisons(t: Mapping[str, Timing]) -> list[tuple[str, str]]:
    """Ratios the issue asks for no target on, shown beside the targets (same run)."""
    pairs = [
        ("authhub basic (real argon2) / argon2-cffi verify", "authhub basic", "floor: argon2-cffi verify"),
        ("DRF BasicAuthentication / authhub basic", "DRF BasicAuthentication", "authhub basic"),
        ("knox / DRF TokenAuthentication", "knox TokenAuthentication", "DRF TokenAuthentication"),
        ("DRF TokenAuthentication / authhub token + cache", "DRF TokenAuthentication", "authhub token + cache"),
        ("authhub token + cache / dict lookup + sha256", "authhub token + cache", "floor: dict lookup + sha256"),
        ("authhub chain dispatch x1 / pluggy x1", "authhub chain dispatch x1", "floor: pluggy firstresult x1"),
        ("authhub chain dispatch x10 / pluggy x10", "authhub chain dispatch x10", "floor: pluggy firstresult x10"),
        ("authhub Flask extension overhead / Flask-HTTPAuth overhead", "authhub Flask extension overhead",
         "Flask-HTTPAuth overhead"),
        ("authhub oauth opaque / authhub token", "authhub oauth opaque bearer", "authhub token"),
        ("ASGI overhead, coroutine scheme / Starlette's (no target: the price of the neutral Request)",
         "authhub ASGI middleware overhead (async scheme)", "Starlette AuthenticationMiddleware overhead"),
        ("authhub session + cache / authhub session", "authhub session + cache", "authhub session"),
        ("DRF TokenAuthentication / authhub oauth opaque", "DRF TokenAuthentication", "authhub oauth opaque bearer"),
        ("DRF TokenAuthentication / authhub oauth JWT", "DRF TokenAuthentication", "authhub oauth JWT bearer"),
        ("token on PostgreSQL / psycopg floor (10,000 tokens)", "token lookup, PostgreSQL, 10,000 tokens",
         "floor: psycopg join, 10,000 tokens"),
        ("sqlite3 join floor: 1,000,000 / 10,000 tokens", "floor: sqlite3 join, 1,000,000 tokens",
         "floor: sqlite3 join, 10,000 tokens"),
    ]
    return [(label, f"{ratio(t[a], t[b]):.2f}x") for label, a, b in pairs
            if a in t and b in t and t[b].median > 0]
