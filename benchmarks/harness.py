"""The timing method every in-process case uses.

A case is a function doing one unit of work (one authenticated request).
:func:`measure_together` first calibrates how many calls fill about ``target``
seconds, then times ``repeats`` batches of that many calls back to back
and keeps each batch's time per call. A case reports the median of those
per-call times and their min-max: the median is what the ratios use, the
spread shows how steady the machine was. Cases that a target compares are
measured together, their batches interleaved.

In-process cases are timed by the CPU time of the thread that runs them
(``time.thread_time``, user + system): on a machine that also runs other
work it is what the code costs, where the wall clock adds whatever the
scheduler gave to others. Not the whole process's: a benchmark process
holds many hubs, each with its invalidation listener in a thread of its
own, and their polling is a fixed cost per process, not per request
(``idle.py`` measures it apart), which the process clock would charge to
whichever case happens to run.
Cases that wait on something outside the process (PostgreSQL, a worker
thread, argon2's own threads) are timed by the wall clock; ``--clock wall``
times everything by it.

The garbage collector stays on (allocations are part of the cost a real
request pays) but is emptied before each batch, so one case's garbage is
not collected on another's clock.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs


@attrs.frozen
class Timing:
    """Per-call times of one case, in seconds."""

    name: str
    group: str
    iterations: int
    repeats: int
    median: float
    low: float
    high: float
    note: str = ""
    #: Per-call time of each batch, in the order the batches ran.
    samples: tuple[float, ...] = attrs.field(default=(), repr=False, eq=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "iterations": self.iterations,
            "repeats": self.repeats,
            "median_us": self.median * 1e6,
            "min_us": self.low * 1e6,
            "max_us": self.high * 1e6,
            "note": self.note,
            "samples_us": [round(sample * 1e6, 3) for sample in self.samples],
        }


@attrs.define
class Settings:
    """How long to time each case: ``target`` seconds per batch, ``repeats`` batches."""

    target: float = 0.025
    repeats: int = 21
    min_iterations: int = 1
    #: ``"wall"`` (``time.perf_counter``) or ``"cpu"`` (``time.thread_time``: the measuring
    #: thread's own CPU time, which other processes and background threads do not inflate).
    clock: str = "cpu"

    def timer(self, case: Case) -> Callable[[], float]:
        return time.thread_time if self.clock == "cpu" and not case.waits else time.perf_counter


@attrs.frozen
class Case:
    """One unit of work to time: ``call()`` (or ``await call()`` when ``is_async``)."""

    name: str
    group: str
    call: Callable[[], Any]
    note: str = ""
    iterations: int | None = None  # fixed batch size (slow cases such as argon2)
    repeats: int | None = None
    is_async: bool = False
    #: The case waits on something outside the process (a database server, a
    #: worker thread): always timed by the wall clock, whatever ``Settings.clock``.
    waits: bool = False


def _batch(call: Callable[[], Any], iterations: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(iterations):
        call()
    return clock() - start


async def _abatch(call: Callable[[], Awaitable[Any]], iterations: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(iterations):
        await call()
    return clock() - start


def _calibrate(run: Callable[[int], float], target: float, minimum: int) -> int:
    iterations = 1
    while True:
        elapsed = run(iterations)
        if elapsed >= target / 5 or iterations >= 1_000_000:
            break
        iterations *= 4 if elapsed < target / 50 else 2
    per_call = elapsed / iterations
    return max(minimum, int(target / per_call) if per_call > 0 else 1_000_000)


def measure_together(cases: Sequence[Case], settings: Settings) -> list[Timing]:
    """Time ``cases`` with their repeats interleaved (A B C A B C ...).

    Cases compared by a target are measured together, so a burst of load
    from elsewhere on the machine falls on all of them rather than on one.
    """
    loop = asyncio.new_event_loop()
    try:
        runners: list[Callable[[int], float]] = []
        for case in cases:
            clock = settings.timer(case)
            if case.is_async:
                def run(n: int, case: Case = case, clock: Callable[[], float] = clock) -> float:
                    return loop.run_until_complete(_abatch(case.call, n, clock))
            else:
                def run(n: int, case: Case = case, clock: Callable[[], float] = clock) -> float:
                    return _batch(case.call, n, clock)
            run(3)  # warm-up: first-call costs (imports, pools, caches) are not per-request costs
            runners.append(run)
        counts = [case.iterations or _calibrate(run, settings.target, settings.min_iterations)
                  for case, run in zip(cases, runners, strict=True)]
        batches: list[list[float]] = [[] for _ in cases]
        rounds = max(case.repeats or settings.repeats for case in cases)
        for round_number in range(rounds):
            for index, (case, run) in enumerate(zip(cases, runners, strict=True)):
                if round_number < (case.repeats or settings.repeats):
                    gc.collect()
                    batches[index].append(run(counts[index]))
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    return [_summarise(case.name, case.group, count, times, case.note)
            for case, count, times in zip(cases, counts, batches, strict=True)]


def _summarise(name: str, group: str, iterations: int, batches: list[float], note: str) -> Timing:
    per_call = [elapsed / iterations for elapsed in batches]
    return Timing(name, group, iterations, len(per_call), statistics.median(per_call), min(per_call), max(per_call),
                  note, tuple(per_call))


def difference(name: str, group: str, wrapped: Timing, bare: Timing, *, note: str = "") -> Timing:
    """What ``wrapped`` costs on top of ``bare`` (a middleware's overhead).

    The two were measured together, batch for batch, so each round gives
    one difference; the median and min-max are those of the differences.
    """
    pairs = [w - b for w, b in zip(wrapped.samples, bare.samples, strict=True)]
    return Timing(name, group, wrapped.iterations, len(pairs), statistics.median(pairs), min(pairs), max(pairs),
                  note or f"paired per round: ({wrapped.name}) - ({bare.name})", tuple(pairs))
