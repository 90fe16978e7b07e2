"""Scheduling benchmark: CP-SAT on the public job-shop and flexible job-shop instances.

Prints a JSON list of ``{"instance", "bks", "makespan", "bound", "gap_to_bks", "seconds"}``
(``gap_to_bks`` in percent) on stdout and optionally writes it to ``--out``. On stderr it
prints each row as it finishes, with ``time_to_best`` (seconds until the final makespan was
first found), then a summary line with the mean gap and the machine's load. Examples::

    .venv/bin/python benchmarks/scheduling.py --suite ft --time-limit 60 --out /tmp/bench_ft.json
    .venv/bin/python benchmarks/scheduling.py --suite la --time-limit 30
    .venv/bin/python benchmarks/scheduling.py --instance my.fjs --format fjsp --time-limit 20

Quality bars the solver is tuned for on a 2-core machine (benchmark runs, not tests):
ft10 reaches 930 within 60 s; la01-la20 mean gap <= 0.5 % at 30 s each; ta01-ta10 mean gap
<= 3 % at 60 s each; mk01-mk10 mean gap <= 3 % at 60 s each.

References: Fisher & Thompson (1963); Lawrence (1984); Taillard (1993); Brandimarte (1993).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from phactory.schedule.benchmarks import SUITES, mean_gap, run_entries, run_file, suite
from phactory.schedule.benchmarks.runner import BenchRow, time_to_best
from phactory.schedule.benchmarks.solver import SolveResult


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=SUITES, default=None, help="default: ft")
    parser.add_argument("--instance", type=Path, help="a user file instead of a suite")
    parser.add_argument("--format", choices=("jsp", "fjsp"), default=None)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the JSON list here")
    args = parser.parse_args(argv)

    reached: dict[str, float | None] = {}

    def remember(result: SolveResult) -> None:
        reached[result.instance] = time_to_best(result)

    def live(row: BenchRow) -> None:
        # One line per instance as it finishes (long suites show progress on stderr), with
        # the time at which the final makespan was first found.
        best = reached.get(row["instance"])
        extra = {"time_to_best": None if best is None else round(best, 2)}
        print(json.dumps({**row, **extra}), file=sys.stderr, flush=True)

    if args.instance is not None:
        rows = [
            run_file(
                args.instance,
                args.format,
                time_limit=args.time_limit,
                workers=args.workers,
                seed=args.seed,
            )
        ]
        live(rows[0])
    else:
        rows = run_entries(
            suite(args.suite or "ft"),
            time_limit=args.time_limit,
            workers=args.workers,
            seed=args.seed,
            on_row=live,
            on_result=remember,
        )
    text = json.dumps(rows, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {args.suite or args.instance}: {len(rows)} instances, mean gap to BKS "
        f"{mean_gap(rows)} %, time limit {args.time_limit} s, {args.workers} workers, "
        f"{os.cpu_count()} CPUs, 1-min load average at end {load:.1f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
