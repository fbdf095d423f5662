"""Compare benchmark runs of two versions, case by case: the "no slower" check.

    python benchmarks/compare.py before-1.json before-2.json -- after-1.json after-2.json

Each side is one or more ``results.json`` files written by ``run.py``
(``--output``) from checkouts of the two versions. Run the two sides in
turns (before, after, before, after) so that both see the same machine:
a figure measured an hour apart on a shared machine says more about the
machine than about the change. For each case both sides have, the median
over that side's runs of the case's median is printed with the change; a
case more than ``--tolerance`` slower is marked and makes the exit status 1.
Cases that only one side has are listed apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def medians(paths: list[Path]) -> dict[str, float]:
    """Each case's median over the runs in ``paths`` (µs), for the cases every run has."""
    runs = [{case["name"]: case["median_us"] for case in json.loads(path.read_text())["cases"]} for path in paths]
    names = set(runs[0]).intersection(*runs[1:])
    return {name: statistics.median(run[name] for run in runs) for name in names}


def order(paths: list[Path]) -> list[str]:
    """Case names in the order the first run printed them."""
    return [case["name"] for case in json.loads(paths[0].read_text())["cases"]]


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if "--" not in arguments:
        print("usage: compare.py BEFORE.json... -- AFTER.json... [--tolerance 0.10]", file=sys.stderr)
        return 2
    split = arguments.index("--")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", nargs="+", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.10, help="slower than this fraction fails (0.10)")
    args = parser.parse_args(arguments[:split])
    after_paths = [Path(argument) for argument in arguments[split + 1:]]
    if not after_paths:
        parser.error("no AFTER files after --")
    before, after = medians(args.before), medians(after_paths)
    slower = []
    print(f"{'case':<72} {'before':>10} {'after':>10} {'change':>8}")
    for name in order(args.before):
        if name in before and name in after:
            change = after[name] / before[name] - 1
            mark = " SLOWER" if change > args.tolerance else ""
            if mark:
                slower.append(name)
            print(f"{name:<72} {before[name]:>8.2f}µs {after[name]:>8.2f}µs {change * 100:>+7.1f}%{mark}")
    for label, side, other in (("before only", before, after), ("after only", after, before)):
        missing = sorted(set(side) - set(other))
        if missing:
            print(f"\n{label}: " + "; ".join(missing))
    print(f"\n{len(slower)} case(s) more than {args.tolerance * 100:.0f}% slower"
          f" ({len(args.before)} run(s) before, {len(after_paths)} after)")
    return 1 if slower else 0


if __name__ == "__main__":
    sys.exit(main())
