"""Public job-shop and flexible job-shop benchmarks, a CP-SAT solver and a checker.

Typical use::

    from phactory.schedule.benchmarks import load_benchmark, solve, check_schedule

    instance = load_benchmark("ft10")
    result = solve(instance, time_limit=60, num_workers=2)
    assert not check_schedule(instance, result.schedule)

Modules
-------
instances  typed instance and schedule dataclasses
readers    standard / Taillard / Brandimarte file readers with ``FILE:LINE`` errors
catalog    the shipped instances (ft, la, ta, mk) with optimal or best-known makespans
taillard   Taillard's generator, to re-derive ta01-ta10 from their seeds
dispatch   priority-rule (Giffler-Thompson) schedules: horizon and solution hint
solver     the CP-SAT model
checker    an independent feasibility checker
runner     suite runs and gap reporting shared by the CLI and ``benchmarks/scheduling.py``
"""

from phactory.schedule.benchmarks.catalog import (
    SUITES,
    CatalogEntry,
    catalog,
    load_benchmark,
    suite,
)
from phactory.schedule.benchmarks.checker import (
    ScheduleViolationError,
    Violation,
    assert_feasible,
    check_schedule,
)
from phactory.schedule.benchmarks.dispatch import best_dispatch, dispatch
from phactory.schedule.benchmarks.instances import (
    Alternative,
    Assignment,
    InstanceFormatError,
    Operation,
    Schedule,
    ShopInstance,
)
from phactory.schedule.benchmarks.readers import (
    parse_fjs,
    parse_jsp,
    parse_taillard,
    read_fjs,
    read_instance,
    read_jsp,
)
from phactory.schedule.benchmarks.runner import BenchRow, mean_gap, run_entries, run_file
from phactory.schedule.benchmarks.solver import SolveResult, solve

__all__ = [
    "SUITES",
    "Alternative",
    "Assignment",
    "BenchRow",
    "CatalogEntry",
    "InstanceFormatError",
    "Operation",
    "Schedule",
    "ScheduleViolationError",
    "ShopInstance",
    "SolveResult",
    "Violation",
    "assert_feasible",
    "best_dispatch",
    "catalog",
    "check_schedule",
    "dispatch",
    "load_benchmark",
    "mean_gap",
    "parse_fjs",
    "parse_jsp",
    "parse_taillard",
    "read_fjs",
    "read_instance",
    "read_jsp",
    "run_entries",
    "run_file",
    "solve",
    "suite",
]
