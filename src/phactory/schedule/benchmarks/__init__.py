"""Public job-shop benchmarks, run through the product's scheduler.

Each classical job-shop instance (Fisher & Thompson, Lawrence, Taillard) becomes a
Phactory site, one unit per machine and one recipe per job, and is solved by the same
:class:`phactory.schedule.Scheduler` users run, so that ``phactory bench scheduling``
measures the product. Typical use::

    from phactory.schedule.benchmarks import load_benchmark, solve_instance, check_schedule

    instance = load_benchmark("ft10")
    result = solve_instance(instance, time_limit=60, workers=2)
    assert result.schedule is not None and not check_schedule(instance, result.schedule)

Flexible job shops (Brandimarte's ``mk``) are shipped and read here but are not
expressible as sites (see :mod:`.shop_site`); ``benchmarks/jobshop_reference.py`` in the
repository solves them with a dedicated model.

Modules
-------
instances  typed instance and schedule dataclasses
readers    standard / Taillard / Brandimarte file readers with ``FILE:LINE`` errors
catalog    the shipped instances (ft, la, ta, mk) with optimal or best-known makespans
taillard   Taillard's generator, to re-derive ta01-ta10 from their seeds
shop_site  a job shop as a site, and the product's schedule back as assignments
checker    an independent feasibility checker of job-shop schedules
runner     solving with the product's scheduler; rows and gaps for the CLI and
           ``benchmarks/scheduling.py``
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
from phactory.schedule.benchmarks.runner import (
    BenchRow,
    SolveResult,
    mean_gap,
    run_entries,
    run_file,
    solve_instance,
)
from phactory.schedule.benchmarks.shop_site import (
    NotExpressibleError,
    shop_assignments,
    shop_site,
)

__all__ = [
    "SUITES",
    "Alternative",
    "Assignment",
    "BenchRow",
    "CatalogEntry",
    "InstanceFormatError",
    "NotExpressibleError",
    "Operation",
    "Schedule",
    "ScheduleViolationError",
    "ShopInstance",
    "SolveResult",
    "Violation",
    "assert_feasible",
    "catalog",
    "check_schedule",
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
    "shop_assignments",
    "shop_site",
    "solve_instance",
    "suite",
]
