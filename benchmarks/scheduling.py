"""Scheduling benchmark: Phactory's scheduler on the public job-shop instances.

The classical job shops (``ft``, ``la``, ``ta``) are solved as Phactory sites by the
product's scheduler, exactly as ``phactory bench scheduling`` does
(:mod:`phactory.schedule.benchmarks`). Brandimarte's flexible shops (``mk``) cannot be
expressed as sites; they are solved by the dedicated reference model of
``jobshop_reference.py`` (next to this script), which ``--solver reference`` also runs on
the classical suites for comparison.

Prints a JSON list of ``{"instance", "bks", "makespan", "bound", "gap_to_bks", "seconds",
"solver"}`` (``gap_to_bks`` in percent, ``solver`` ``phactory`` or ``reference``) on
stdout and optionally writes it to ``--out``. On stderr it prints each row as it
finishes, with ``time_to_best`` (seconds until the final makespan was first found), then
a summary line with the mean gap and the machine's load. Examples::

    .venv/bin/python benchmarks/scheduling.py --suite ft --time-limit 60 --out /tmp/bench_ft.json
    .venv/bin/python benchmarks/scheduling.py --suite la --time-limit 30
    .venv/bin/python benchmarks/scheduling.py --suite mk --time-limit 60
    .venv/bin/python benchmarks/scheduling.py --instance my.jsp --time-limit 20

Quality bars on a 2-core machine (benchmark runs, not tests): la01-la20 all optimal at
30 s each; ta01-ta10 mean gap <= 3 % at 60 s each; mk01-mk10 mean gap <= 3 % at 60 s each
(reference model).

References: Fisher & Thompson (1963); Lawrence (1984); Taillard (1993); Brandimarte (1993).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from jobshop_reference import solve as solve_reference

from phactory.schedule.benchmarks import (
    SUITES,
    CatalogEntry,
    assert_feasible,
    load_benchmark,
    mean_gap,
    read_instance,
    suite,
)
from phactory.schedule.benchmarks.runner import (
    BenchRow,
    SolveResult,
    bks_of,
    row_for,
    solve_instance,
    time_to_best,
)


def _solve(instance: Any, solver: str, time_limit: float, workers: int, seed: int) -> SolveResult:
    if solver == "phactory":
        return solve_instance(instance, time_limit=time_limit, workers=workers, seed=seed)
    ref = solve_reference(instance, time_limit=time_limit, num_workers=workers, seed=seed)
    if ref.schedule is not None:
        assert_feasible(instance, ref.schedule)
    return ref


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=SUITES, default=None, help="default: ft")
    parser.add_argument("--instance", type=Path, help="a user file instead of a suite")
    parser.add_argument("--format", choices=("jsp", "fjsp"), default=None)
    parser.add_argument(
        "--solver",
        choices=("phactory", "reference"),
        default=None,
        help="default: phactory for job shops, reference for flexible ones",
    )
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the JSON list here")
    args = parser.parse_args(argv)

    jobs: list[tuple[Any, int | None]]
    if args.instance is not None:
        inst = read_instance(args.instance, args.format)
        jobs = [(inst, bks_of(inst))]
    else:
        entries: list[CatalogEntry] = suite(args.suite or "ft")
        jobs = [(load_benchmark(e.name), e.bks) for e in entries]

    rows: list[dict[str, Any]] = []
    plain: list[BenchRow] = []
    for instance, bks in jobs:
        solver = args.solver or ("reference" if instance.kind == "fjsp" else "phactory")
        result = _solve(instance, solver, args.time_limit, args.workers, args.seed)
        row: BenchRow = row_for(result, bks)
        best = time_to_best(result)
        plain.append(row)
        rows.append({**row, "solver": solver})
        # One line per instance as it finishes (long suites show progress on stderr).
        extra = {"solver": solver, "time_to_best": None if best is None else round(best, 2)}
        print(json.dumps({**row, **extra}), file=sys.stderr, flush=True)
    text = json.dumps(rows, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {args.suite or args.instance}: {len(rows)} instances, mean gap to BKS "
        f"{mean_gap(plain)} %, time limit {args.time_limit} s, {args.workers} workers, "
        f"{os.cpu_count()} CPUs, 1-min load average at end {load:.1f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
