"""Run every benchmark case, print the table and the targets, write ``benchmarks/results.json``.

    python benchmarks/run.py                # everything (about 3 minutes on two cores)
    python benchmarks/run.py --quick        # 5 short batches per case: a smoke test, not a result
    python benchmarks/run.py --skip-postgres --skip-http

Every ratio is computed from times measured in this one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fixtures  # noqa: E402
from harness import Case, Settings, Timing, difference, measure_together  # noqa: E402
from targets import Target, comparisons, evaluate  # noqa: E402

RESULTS = HERE / "results.json"


def machine() -> dict[str, Any]:
    def run(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    model = next((line.split(":", 1)[1].strip() for line in run("lscpu").splitlines()
                  if line.startswith("Model name")), platform.processor())
    versions = {}
    for name in ("authhub-core", "authhub-token", "authhub-basic", "authhub-session", "authhub-oauth", "Django",
                 "djangorestframework", "django-rest-knox", "starlette", "Flask", "Flask-HTTPAuth", "pluggy",
                 "SQLAlchemy", "argon2-cffi", "waitress", "psycopg"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = None
    commit = run("git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD")
    status = run("git", "-C", str(HERE.parent), "status", "--porcelain", "--untracked-files=no", "authhub", "plugins")
    changed = [line.split(maxsplit=1)[1] for line in status.splitlines() if line.strip()]
    return {
        "git": {"commit": commit or None, "uncommitted": changed},
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "versions": versions,
    }


def table(timings: list[Timing]) -> str:
    lines = [f"{'case':<62} {'median':>12} {'min-max':>23} {'n x r':>11}  note",
             "-" * 125]
    group = None
    for timing in timings:
        if timing.group != group:
            group = timing.group
            lines.append(f"[{group}]")
        lines.append(
            f"{timing.name:<62} {_time(timing.median):>12} {_time(timing.low) + ' - ' + _time(timing.high):>23} "
            f"{timing.iterations:>7}x{timing.repeats:<3}  {timing.note}"
        )
    return "\n".join(lines)


def _time(seconds: float) -> str:
    micro = seconds * 1e6
    if abs(micro) >= 10_000:
        return f"{micro / 1000:.1f} ms"
    if abs(micro) >= 100:
        return f"{micro:.0f} µs"
    return f"{micro:.2f} µs"


#: Middleware overheads: ``(name, group, wrapped case, bare case)``, paired per round.
OVERHEADS = [
    ("authhub WSGI middleware overhead", "authhub", "WSGI trivial app + authhub AuthMiddleware",
     "WSGI trivial app, bare"),
    ("Flask-HTTPAuth overhead", "anchor", "Flask view + Flask-HTTPAuth HTTPTokenAuth", "Flask view, bare"),
    ("authhub Flask extension overhead", "authhub", "Flask view + authhub FlaskAuth login_required",
     "Flask view, bare"),
    ("authhub ASGI middleware overhead (async scheme)", "authhub",
     "ASGI trivial app + authhub AuthMiddleware (async scheme)", "ASGI trivial app, bare"),
    ("authhub ASGI middleware overhead (token, warm cache)", "authhub",
     "ASGI trivial app + authhub AuthMiddleware (token, warm cache)", "ASGI trivial app, bare"),
    ("authhub ASGI middleware overhead (plain scheme)", "authhub",
     "ASGI trivial app + authhub AuthMiddleware (plain scheme)", "ASGI trivial app, bare"),
    ("Starlette AuthenticationMiddleware overhead", "anchor", "ASGI trivial app + Starlette AuthenticationMiddleware",
     "ASGI trivial app, bare"),
    ("Starlette AuthenticationMiddleware overhead (threadpool backend)", "anchor",
     "ASGI trivial app + Starlette AuthenticationMiddleware (threadpool backend)", "ASGI trivial app, bare"),
]


def in_process_groups(run_dir: Path, database: Path, meta: dict[str, Any],
                      django_meta: dict[str, Any]) -> list[tuple[str, Callable[[], list[Case]]]]:
    """Every in-process case, in the groups measured together (each group's cases are built when it runs)."""
    import cases_authhub
    import cases_drf
    import cases_flask
    import cases_knox
    import cases_starlette
    import floors

    key = meta["token_key"]
    return [
        # Cases with a cache are measured apart from those without (cases_authhub.close_hubs).
        ("token: authhub, DRF, knox, floor", lambda: [
            floors.sqlite_join(database, key),
            *cases_authhub.token(run_dir, database, key),
            cases_drf.token(django_meta),
            cases_knox.token(),
        ]),
        ("token: the cache, warm", lambda: [
            floors.dict_sha256(key), *cases_authhub.token(run_dir, database, key, cached=True),
        ]),
        ("session: authhub, DRF", lambda: [*cases_authhub.session(run_dir, database), cases_drf.session()]),
        ("session: the cache, warm", lambda: cases_authhub.session(run_dir, database, cached=True)),
        ("chain dispatch vs pluggy", lambda: [
            *(floors.pluggy_firstresult(count) for count in (1, 4, 10)),
            *(cases_authhub.chain_dispatch(count, run_dir) for count in (1, 4, 10)),
        ]),
        ("WSGI: authhub middleware, Flask-HTTPAuth",
         lambda: [*cases_authhub.wsgi_middleware(run_dir), *cases_flask.middleware(run_dir)]),
        ("ASGI: authhub middleware, Starlette, on the event loop",
         lambda: [*cases_authhub.asgi_middleware(run_dir, database, key), *cases_starlette.middleware()]),
        # Apart from the token hub's listener above; their overheads pair with the bare app measured there.
        ("ASGI: a worker thread per request (authhub plain scheme, Starlette threadpool backend)",
         lambda: [*cases_authhub.asgi_middleware_in_a_thread(run_dir), *cases_starlette.middleware(in_a_thread=True)]),
        ("basic: real argon2 parameters",
         lambda: [floors.argon2_verify(), *cases_authhub.basic(run_dir, database), cases_drf.basic()]),
        ("basic: the cost around argon2, and the cache", lambda: cases_authhub.basic_overhead(run_dir, database)),
        ("oauth bearer: opaque", lambda: cases_authhub.oauth(run_dir, database)),
        ("oauth bearer: caches on, opaque and JWT", lambda: cases_authhub.oauth(run_dir, database, cached=True)),
    ]


def profile(groups: list[tuple[str, Callable[[], list[Case]]]], name: str, seconds: float = 3.0) -> int:
    """Run one case under pyinstrument for about ``seconds`` and print where its time goes."""
    import asyncio

    from pyinstrument import Profiler

    for _, make in groups:
        matches = [case for case in make() if case.name == name]
        if matches:
            break
    else:
        print(f"no in-process case named {name!r}", file=sys.stderr)
        return 2
    case = matches[0]
    loop = asyncio.new_event_loop()

    def once() -> Any:
        return loop.run_until_complete(case.call()) if case.is_async else case.call()

    for _ in range(50):
        once()
    profiler = Profiler(interval=0.0001)
    count = 0
    deadline = time.perf_counter() + seconds
    profiler.start()
    while time.perf_counter() < deadline:
        once()
        count += 1
    profiler.stop()
    loop.close()
    print(f"{name}: {count} calls in {seconds:.0f} s under the profiler (its overhead included)")
    print(profiler.output_text(unicode=True, color=False))
    return 0


def performance_markdown(payload: dict[str, Any], timings: list[Timing], results: list[Target],
                         extra: dict[str, Any]) -> str:
    """The README's "Performance" section for this run, ready to paste."""
    machine_info = payload["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in machine_info["versions"].items() if version)
    lines = [
        "## Performance",
        "",
        "Per-request cost of authentication, authhub beside Django REST framework, django-rest-knox, Starlette and "
        "Flask-HTTPAuth doing the same work on the same data (SQLite file, 10,000 users, one valid credential), "
        "all measured in one run. Reproduce with:",
        "",
        "```sh",
        "pip install -r benchmarks/requirements.txt",
        "python benchmarks/run.py        # or: tox -e bench",
        "```",
        "",
        f"Measured {payload['when']} on {machine_info['cpus']} x {machine_info['cpu']}, "
        f"Python {machine_info['python']}, SQLite {machine_info['sqlite']} ({machine_info['platform']}); "
        f"load average {payload['load_average']['start'][0]:.1f} at the start. {versions}. "
        f"Code: commit {machine_info['git']['commit']}"
        + (f" with uncommitted changes to {', '.join(machine_info['git']['uncommitted'])}"
           if machine_info["git"]["uncommitted"] else "") + ".",
        "",
        f"Each case: {payload['method']['repeats']} batches of ~{payload['method']['batch_seconds'] * 1000:.0f} ms, "
        f"interleaved with the cases it is compared with; median and min-max per request "
        f"({payload['method']['clock']} clock for in-process cases, wall clock for PostgreSQL, worker threads and "
        "argon2). See `benchmarks/README.md`.",
        "",
        "### Targets",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {t.label} | {t.measured} | {'met' if t.met else '**missed**'} |" for t in results]
    lines += ["", "### All cases", "", "| case | median | min-max | note |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {t.name} | {_time(t.median)} | {_time(t.low)} - {_time(t.high)} | {t.note} |" for t in timings]
    if "memory" in extra:
        m = extra["memory"]
        lines += ["", f"Memory: a process authenticating {m['requests']:,} token requests peaks at "
                      f"{m['peak_rss_mib']:.1f} MiB RSS ({m['rss_before_mib']:.1f} MiB after set-up)."]
    if "concurrency" in extra or "http" in extra:
        lines += ["", "Under concurrency, over HTTP, and across processes:", "", "```",
                  *extra.get("concurrency", {}).get("lines", []), *extra.get("http", {}).get("lines", []),
                  *extra.get("idle", {}).get("lines", []), *extra.get("propagation", {}).get("lines", []), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 short repeats per case (a smoke test, not a result)")
    parser.add_argument("--skip-postgres", action="store_true", help="leave out the PostgreSQL scale case")
    parser.add_argument("--skip-http", action="store_true", help="leave out the over-HTTP and server-memory cases")
    parser.add_argument("--postgres", default=os.environ.get("AUTHHUB_TEST_POSTGRES",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                        help="admin URL of the PostgreSQL server; two databases are made on it and dropped "
                             "(default: $AUTHHUB_TEST_POSTGRES or postgres@127.0.0.1:5432)")
    parser.add_argument("--redis", default=os.environ.get("AUTHHUB_TEST_REDIS", "redis://127.0.0.1:6379/0"),
                        help="Redis for the propagation case's Redis channel (default: $AUTHHUB_TEST_REDIS or "
                             "127.0.0.1:6379)")
    parser.add_argument("--skip-redis", action="store_true", help="leave out the Redis channel")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="time in-process cases by the measuring thread's CPU time (default: other work on "
                             "the machine does not inflate it) or by the wall clock; cases that wait on a server or "
                             "a thread always use the wall clock")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--profile", metavar="CASE",
                        help="instead of measuring, run one in-process case (its name as in the table) under "
                             "pyinstrument and print where the time goes")
    args = parser.parse_args(argv)

    settings = Settings(target=0.01, repeats=5, clock=args.clock) if args.quick else Settings(clock=args.clock)
    load_before = os.getloadavg()
    started = time.time()
    run_dir = Path(tempfile.mkdtemp(prefix="authhub-bench-"))
    timings: list[Timing] = []
    extra: dict[str, Any] = {}

    def add(*results: Timing) -> None:
        for timing in results:
            timings.append(timing)
            print(f"  {timing.name}: {_time(timing.median)} ({_time(timing.low)} - {_time(timing.high)})",
                  file=sys.stderr, flush=True)

    def step(title: str, action: Callable[[], Any]) -> Any:
        print(f"- {title}", file=sys.stderr, flush=True)
        return action()

    try:
        database, meta = step("authhub database (10,000 users)", lambda: fixtures.authhub_database(run_dir))
        django_meta = step("Django database (10,000 users)", lambda: fixtures.django_database(run_dir))
        groups = in_process_groups(run_dir, database, meta, django_meta)
        if args.profile:
            return profile(groups, args.profile)
        import cases_authhub

        for title, make in groups:
            print(f"- {title}", file=sys.stderr, flush=True)
            cases = make()
            if cases:
                add(*measure_together(cases, settings))
            cases_authhub.close_hubs()
        by_name = {timing.name: timing for timing in timings}
        for name, group, wrapped, bare in OVERHEADS:
            if wrapped in by_name and bare in by_name:
                add(difference(name, group, by_name[wrapped], by_name[bare]))
        import scale

        key = meta["token_key"]
        step("scale: SQLite 10,000 vs 1,000,000 tokens",
             lambda: add(*scale.sqlite(run_dir, database, key, settings)))
        if not args.skip_postgres:
            import sqlalchemy.exc

            try:
                step("scale: PostgreSQL 10,000 vs 1,000,000 tokens",
                     lambda: add(*scale.postgres(run_dir, args.postgres, settings)))
            except sqlalchemy.exc.OperationalError as error:
                print(f"  PostgreSQL unreachable ({type(error.orig).__name__}): its cases are left out; "
                      "pass --skip-postgres to say so, or --postgres URL", file=sys.stderr)
        import memory

        extra["memory"] = step("memory: 100,000 authenticated requests in one process",
                               lambda: memory.authenticating_process(database, key))
        import concurrency

        extra["concurrency"] = step("token authentication from 1 and 8 threads",
                                    lambda: concurrency.run(run_dir, database, meta["token_key"], quick=args.quick))
        if not args.skip_http:
            import http_load
            import propagation

            with contextlib.ExitStack() as stack:
                postgres = None if args.skip_postgres else stack.enter_context(
                    scale.filled_postgres(run_dir, args.postgres))
                extra["http"] = step("over HTTP: authhub serve (waitress) under wrk",
                                     lambda: http_load.run(run_dir, database, key, quick=args.quick,
                                                           postgres=postgres))
                import idle

                extra["idle"] = step("idle: the invalidation listener's CPU per second",
                                     lambda: idle.run(f"sqlite:///{fixtures.copy_into(run_dir, 'idle', database)}",
                                                      postgres[0] if postgres else None,
                                                      None if args.skip_redis else args.redis, quick=args.quick))
                copy = fixtures.copy_into(run_dir, "propagation", database)
                extra["propagation"] = step(
                    "propagation: a change in one process, refused by another",
                    lambda: propagation.run(run_dir, copy, postgres_url=postgres[0] if postgres else None,
                                            redis_url=None if args.skip_redis else args.redis))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)

    by_name = {timing.name: timing for timing in timings}
    results: list[Target] = evaluate(by_name, extra)
    elapsed = time.time() - started
    load_after = os.getloadavg()

    print()
    print(f"clock: {settings.clock}; {settings.repeats} interleaved batches of ~{settings.target * 1000:.0f} ms "
          f"per case; load average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end")
    print(table(timings))
    print()
    if "memory" in extra:
        memory_result = extra["memory"]
        print(f"memory: {memory_result['requests']:,} token-authenticated requests in one process: "
              f"peak RSS {memory_result['peak_rss_mib']:.1f} MiB "
              f"(after set-up {memory_result['rss_before_mib']:.1f} MiB, "
              f"grew {memory_result['peak_rss_mib'] - memory_result['rss_before_mib']:.1f} MiB)")
    if "concurrency" in extra:
        for line in extra["concurrency"]["lines"]:
            print(line)
    for part in ("http", "idle", "propagation"):
        for line in extra.get(part, {}).get("lines", []):
            print(line)
    print()
    print(f"{'target':<78} {'measured':>22}  verdict")
    print("-" * 112)
    for target in results:
        print(f"{target.label:<78} {target.measured:>22}  {'MET' if target.met else 'MISSED'}")
    print()
    print(f"{sum(t.met for t in results)} of {len(results)} targets met; run took {elapsed:.0f} s")
    others = comparisons(by_name)
    if others:
        print()
        print("other ratios from this run (no target):")
        for label, text in others:
            print(f"  {label:<76} {text:>10}")

    payload = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(elapsed, 1),
        "quick": args.quick,
        "machine": machine(),
        "load_average": {"start": load_before, "end": load_after},
        "method": {"batch_seconds": settings.target, "repeats": settings.repeats, "clock": settings.clock,
                   "statistic": "median of per-call times over the repeats; min-max of the same"},
        "cases": [timing.as_json() for timing in timings],
        "targets": [target.as_json() for target in results],
        "comparisons": dict(comparisons(by_name)),
        **extra,
    }
    args.output.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    markdown = args.output.with_suffix(".md")
    markdown.write_text(performance_markdown(payload, timings, results, extra))
    print(f"wrote {args.output} and {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
