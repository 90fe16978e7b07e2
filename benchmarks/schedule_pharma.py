"""Benchmark of the pharma scheduler on the example sites; prints JSON.

Cases (each with a wall-time budget, model building included, default 60 s):

- ``mab-biologics``: the one-year plan (52 batches x 16 unit procedures), objective
  ``lex:tardiness,makespan`` (tardiness first, then makespan with tardiness fixed);
- ``car-t-autologous``: the first 1,000 patient orders by release date (one batch of
  eight unit procedures each), objective ``tardiness``.

For each: the size of the problem, the dispatch heuristic's values, CP-SAT's status,
objective, bound and gap, the wall time of the solve and of the independent check, the
number of violations (the bar is 0) and the KPIs of the schedule. ``bars_met`` says
whether each case got a checked, feasible schedule within its budget.

The development machines have 2 cores and are shared with other jobs: wall times swing
with the load (``load_avg_1min`` is recorded), CPU seconds of this process are reported
alongside.

Usage: ``python benchmarks/schedule_pharma.py [--time-limit S] [--workers N] [--quick]``
(``--quick``: 15 s budgets and 300 CAR-T patients).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from phactory.model import Site, load_site
from phactory.schedule import Scheduler, check_schedule, dispatch
from phactory.schedule.objectives import evaluate, parse_objective, to_report_units

ROOT = Path(__file__).resolve().parent.parent


def cpu_s() -> float:
    """CPU seconds used by this process (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_case(
    name: str,
    site: Site,
    *,
    objective: str,
    time_limit: float,
    workers: int,
    orders: list[str] | None = None,
) -> dict[str, Any]:
    """Solve one case and check it."""
    sched = Scheduler(objective=objective, time_limit_s=time_limit, workers=workers)
    t0 = time.perf_counter()
    problem = sched.problem(site, orders=orders)
    build_s = time.perf_counter() - t0
    names = parse_objective(objective)
    t1 = time.perf_counter()
    heur = dispatch(problem, "edd")
    heur_s = time.perf_counter() - t1
    heuristic = {n: to_report_units(problem, n, evaluate(problem, heur, n)) for n in names}

    progress: list[tuple[float, float, float]] = []
    c0, w0 = cpu_s(), time.perf_counter()
    schedule = sched.solve(
        site, orders=orders, progress=lambda o, b, t: progress.append((o, b, round(t, 2)))
    )
    solve_wall = time.perf_counter() - w0
    solve_cpu = cpu_s() - c0
    t2 = time.perf_counter()
    violations = check_schedule(site, schedule)
    check_s = time.perf_counter() - t2
    return {
        "case": name,
        "objective": objective,
        "batches": len(problem.batches),
        "operations": len(problem.ops),
        "unit_groups": len(problem.groups),
        "labour_groups": len(problem.labour),
        "problem_build_s": round(build_s, 3),
        "heuristic_s": round(heur_s, 3),
        "heuristic": heuristic,
        "status": schedule.status,
        "objective_value": schedule.objective_value,
        "best_bound": schedule.best_bound,
        "gap": None if schedule.gap is None else round(schedule.gap, 4),
        "stages": [
            {
                "objective": s.objective,
                "status": s.status,
                "value": s.value,
                "bound": s.bound,
                "seconds": round(s.seconds, 2),
            }
            for s in schedule.stages
        ],
        "time_limit_s": time_limit,
        "solve_wall_s": round(solve_wall, 2),
        "solve_cpu_s": round(solve_cpu, 2),
        "check_s": round(check_s, 2),
        "violations": len(violations),
        "first_violation": str(violations[0]) if violations else None,
        "kpis": schedule.kpis,
        "improvements": len(progress),
        "last_progress": progress[-1] if progress else None,
        "notes": schedule.notes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    limit = args.time_limit or (15.0 if args.quick else 60.0)
    patients = 300 if args.quick else 1000

    out: dict[str, Any] = {
        "machine_cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "workers": args.workers,
        "cases": [],
    }
    mab = load_site(ROOT / "examples" / "mab-biologics")
    out["cases"].append(
        run_case(
            "mab-biologics one-year plan",
            mab,
            objective="lex:tardiness,makespan",
            time_limit=limit,
            workers=args.workers,
        )
    )
    cart = load_site(ROOT / "examples" / "car-t-autologous")
    first = sorted(
        cart.orders, key=lambda o: cart.to_hours(o.release) if o.release is not None else 0.0
    )[:patients]
    out["cases"].append(
        run_case(
            f"car-t-autologous first {patients} patients",
            cart,
            objective="tardiness",
            time_limit=limit,
            workers=args.workers,
            orders=[o.id for o in first],
        )
    )
    out["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
    out["bars_met"] = {
        c["case"]: c["violations"] == 0
        and c["status"] in ("optimal", "feasible", "heuristic")
        and c["solve_wall_s"] <= c["time_limit_s"] + 5.0
        for c in out["cases"]
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
