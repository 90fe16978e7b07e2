"""Run the solver over benchmark suites or user files and report gaps to the best known.

Shared by ``phactory bench scheduling`` and ``benchmarks/scheduling.py`` so that both print
the same rows::

    {"instance": "ft10", "bks": 930, "makespan": 930, "bound": 930,
     "gap_to_bks": 0.0, "seconds": 21.3}

``gap_to_bks`` is in percent, ``100 * (makespan - bks) / bks``; it and ``bks`` are
``null`` for a user file that is not in the catalog, and ``gap_to_bks`` is ``null`` when
no schedule was found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypedDict

from phactory.schedule.benchmarks.catalog import CatalogEntry, catalog, load_benchmark
from phactory.schedule.benchmarks.checker import assert_feasible
from phactory.schedule.benchmarks.instances import ShopInstance
from phactory.schedule.benchmarks.readers import FileFormat, read_instance
from phactory.schedule.benchmarks.solver import Progress, SolveResult, solve

__all__ = ["BenchRow", "mean_gap", "row_for", "run_entries", "run_file", "time_to_best"]


class BenchRow(TypedDict):
    """One line of benchmark output."""

    instance: str
    bks: int | None
    makespan: int | None
    bound: int
    gap_to_bks: float | None
    seconds: float


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


def _solve_checked(
    instance: ShopInstance, time_limit: float, workers: int, seed: int, progress: Progress | None
) -> SolveResult:
    result = solve(
        instance, time_limit=time_limit, num_workers=workers, seed=seed, progress=progress
    )
    if result.schedule is not None:
        # Every reported makespan is backed by a schedule that passed the independent check.
        assert_feasible(instance, result.schedule)
    return result


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
        result = _solve_checked(instance, time_limit, workers, seed, progress)
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
    entry = catalog().get(instance.name)
    # A user file that merely shares a catalog name but differs in size is not that instance.
    same = entry is not None and (entry.n_jobs, entry.n_machines) == (
        instance.n_jobs,
        instance.n_machines,
    )
    bks = entry.bks if same and entry is not None else None
    return row_for(_solve_checked(instance, time_limit, workers, seed, progress), bks)


def mean_gap(rows: Iterable[BenchRow]) -> float | None:
    """Mean ``gap_to_bks`` over rows that have one (``None`` if none do)."""
    gaps = [r["gap_to_bks"] for r in rows if r["gap_to_bks"] is not None]
    return round(sum(gaps) / len(gaps), 3) if gaps else None
