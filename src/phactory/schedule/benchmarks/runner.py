"""Run the product's scheduler on job-shop benchmarks and report gaps to the best known.

Each instance becomes a site (:func:`~phactory.schedule.benchmarks.shop_site.shop_site`)
and is solved by :class:`phactory.schedule.Scheduler` with ``objective="makespan"`` on a
one-hour grain: the problem builder, CP-SAT model, warm start and checker users run.
Every reported makespan is backed by a schedule that passed both the product's
independent checker (against the site) and the job-shop checker (against the instance,
:mod:`~phactory.schedule.benchmarks.checker`).

Shared by ``phactory bench scheduling`` and ``benchmarks/scheduling.py`` so that both print
the same rows::

    {"instance": "ft10", "bks": 930, "makespan": 930, "bound": 930,
     "gap_to_bks": 0.0, "seconds": 21.3}

``gap_to_bks`` is in percent, ``100 * (makespan - bks) / bks``; it and ``bks`` are
``null`` for a user file that is not in the catalog, and ``gap_to_bks`` is ``null`` when
no schedule was found.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict

from phactory.schedule.benchmarks.catalog import CatalogEntry, catalog, load_benchmark
from phactory.schedule.benchmarks.checker import assert_feasible
from phactory.schedule.benchmarks.instances import Schedule, ShopInstance
from phactory.schedule.benchmarks.readers import FileFormat, read_instance
from phactory.schedule.benchmarks.shop_site import shop_assignments, shop_site

__all__ = [
    "BenchRow",
    "Progress",
    "SolveResult",
    "SolveStatus",
    "bks_of",
    "mean_gap",
    "row_for",
    "run_entries",
    "run_file",
    "solve_instance",
    "time_to_best",
]

SolveStatus = Literal["optimal", "feasible", "infeasible", "unknown"]

#: ``progress(incumbent, bound, seconds)``: called whenever the incumbent or the bound improves.
Progress = Callable[[int | None, int, float], None]


class BenchRow(TypedDict):
    """One line of benchmark output."""

    instance: str
    bks: int | None
    makespan: int | None
    bound: int
    gap_to_bks: float | None
    seconds: float


@dataclass(frozen=True, slots=True)
class SolveResult:
    """Outcome of solving one instance (by the product's scheduler, or by the reference
    model of ``benchmarks/jobshop_reference.py``).

    Attributes
    ----------
    instance
        Name of the solved instance.
    status
        ``"optimal"`` (makespan proven optimal), ``"feasible"``, ``"infeasible"`` or
        ``"unknown"`` (no schedule within the time limit).
    makespan
        Best makespan found, or ``None``.
    bound
        Proven lower bound on the optimal makespan (equals ``makespan`` when optimal).
    seconds
        Wall-clock seconds of the solve, model building and the first schedule (warm
        start, dispatch hint) included.
    schedule
        The best schedule as job-shop assignments, or ``None``.
    trace
        ``(incumbent, bound, seconds)`` each time one of them improved.
    """

    instance: str
    status: SolveStatus
    makespan: int | None
    bound: int
    seconds: float
    schedule: Schedule | None
    trace: tuple[tuple[int | None, int, float], ...] = field(default=())


class _Trace:
    """Incumbents and bounds as the scheduler reports them, rounded to the instance's
    integer times, deduplicated, forwarded to ``progress``."""

    def __init__(self, lower: int, progress: Progress | None) -> None:
        self.lock = threading.Lock()
        self.incumbent: int | None = None
        self.bound = lower
        self.items: list[tuple[int | None, int, float]] = []
        self.progress = progress

    def __call__(self, value: float, bound: float, seconds: float) -> None:
        inc, low = round(value), math.ceil(bound - 1e-6)
        with self.lock:
            better = self.incumbent is None or inc < self.incumbent
            if not better and low <= self.bound:
                return
            if better:
                self.incumbent = inc
            self.bound = max(self.bound, low)
            item = (self.incumbent, self.bound, seconds)
            self.items.append(item)
        if self.progress is not None:
            self.progress(*item)


def solve_instance(
    instance: ShopInstance,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    progress: Progress | None = None,
) -> SolveResult:
    """Minimise the makespan of a job shop with the product's scheduler.

    Parameters
    ----------
    instance
        A job shop (one eligible machine per operation).
    time_limit
        Wall-clock budget of the solve [s], model building and warm start included.
    workers
        CP-SAT worker threads.
    seed
        CP-SAT random seed.
    progress
        Called with ``(incumbent, bound, seconds)`` whenever either improves.

    Raises
    ------
    NotExpressibleError
        For a flexible job shop (see :mod:`~phactory.schedule.benchmarks.shop_site`).
    ScheduleViolationError
        If a schedule fails the site's or the instance's checker (a bug).
    """
    from phactory.schedule.checker import assert_valid
    from phactory.schedule.solver import Scheduler

    site = shop_site(instance)
    lower = instance.trivial_lower_bound()
    trace = _Trace(lower, progress)
    t0 = time.monotonic()
    sched = Scheduler(
        objective="makespan", time_limit_s=time_limit, workers=workers, grain_h=1.0, seed=seed
    ).solve(site, progress=trace)
    seconds = time.monotonic() - t0
    if not sched.feasible:
        status: SolveStatus = "infeasible" if sched.status == "infeasible" else "unknown"
        return SolveResult(
            instance.name, status, None, trace.bound, seconds, None, tuple(trace.items)
        )
    # Every reported makespan is backed by a schedule both checkers accept.
    assert_valid(site, sched)
    shop = shop_assignments(instance, sched.operations)
    assert_feasible(instance, shop)
    makespan = shop.makespan
    optimal = sched.status == "optimal"
    bound = (
        makespan if optimal else max(lower, trace.bound, math.ceil((sched.best_bound or 0) - 1e-6))
    )
    if trace.incumbent is None or makespan < trace.incumbent or bound > trace.bound:
        # The final state (e.g. the warm start kept, or optimality proven at the end).
        trace(float(makespan), float(bound), seconds)
    return SolveResult(
        instance.name,
        "optimal" if optimal else "feasible",
        makespan,
        min(bound, makespan),
        seconds,
        shop,
        tuple(trace.items),
    )


def row_for(result: SolveResult, bks: int | None) -> BenchRow:
    """Format a solver result as a benchmark row."""
    gap = None
    if bks is not None and result.makespan is not None:
        gap = round(100.0 * (result.makespan - bks) / bks, 3)
    return BenchRow(
        instance=result.instance,
        bks=bks,
        makespan=result.makespan,
        bound=result.bound,
        gap_to_bks=gap,
        seconds=round(result.seconds, 2),
    )


def run_entries(
    entries: Iterable[CatalogEntry],
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    on_start: Callable[[CatalogEntry], None] | None = None,
    progress: Progress | None = None,
    on_row: Callable[[BenchRow], None] | None = None,
    on_result: Callable[[SolveResult], None] | None = None,
) -> list[BenchRow]:
    """Solve catalog instances one after another; callbacks allow live reporting.

    ``on_result`` receives the full :class:`SolveResult` (schedule and improvement trace),
    e.g. to report when the final makespan was first reached.
    """
    rows: list[BenchRow] = []
    for entry in entries:
        if on_start is not None:
            on_start(entry)
        instance = load_benchmark(entry.name)
        result = solve_instance(
            instance, time_limit=time_limit, workers=workers, seed=seed, progress=progress
        )
        row = row_for(result, entry.bks)
        rows.append(row)
        if on_result is not None:
            on_result(result)
        if on_row is not None:
            on_row(row)
    return rows


def time_to_best(result: SolveResult) -> float | None:
    """Seconds until the final makespan was first found (``None`` without a schedule)."""
    if result.makespan is None:
        return None
    return next((s for inc, _, s in result.trace if inc == result.makespan), result.seconds)


def bks_of(instance: ShopInstance) -> int | None:
    """The catalog's best-known makespan of an instance read from a user file, if it is
    that instance (same name and size)."""
    entry = catalog().get(instance.name)
    # A user file that merely shares a catalog name but differs in size is not that instance.
    same = entry is not None and (entry.n_jobs, entry.n_machines) == (
        instance.n_jobs,
        instance.n_machines,
    )
    return entry.bks if same and entry is not None else None


def run_file(
    path: str | Path,
    fmt: FileFormat | None,
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    progress: Progress | None = None,
) -> BenchRow:
    """Solve a user-supplied file; the BKS is looked up only if its name is in the catalog."""
    instance = read_instance(path, fmt)
    result = solve_instance(
        instance, time_limit=time_limit, workers=workers, seed=seed, progress=progress
    )
    return row_for(result, bks_of(instance))


def mean_gap(rows: Iterable[BenchRow]) -> float | None:
    """Mean ``gap_to_bks`` over rows that have one (``None`` if none do)."""
    gaps = [r["gap_to_bks"] for r in rows if r["gap_to_bks"] is not None]
    return round(sum(gaps) / len(gaps), 3) if gaps else None
