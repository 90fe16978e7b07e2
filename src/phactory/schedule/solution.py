"""From timings on the grain to a :class:`~phactory.schedule.schedule.Schedule`.

Operations placed on a pooled unit group get their unit here by colouring the interval
graph of their occupancies (changeover, processing, cleaning) in order of start: with at
most ``capacity`` occupancies overlapping at any time, a free unit always exists [1]_.

References
----------
.. [1] M. C. Golumbic (2004). *Algorithmic Graph Theory and Perfect Graphs*, 2nd ed.,
   Elsevier, ch. 8.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pandas as pd

from phactory.schedule.objectives import evaluate
from phactory.schedule.problem import Problem, Timing
from phactory.schedule.schedule import (
    OPERATION_COLUMNS,
    SEGMENT_COLUMNS,
    Downtime,
    Schedule,
    ScheduleStatus,
    StageResult,
    format_crew,
)

__all__ = ["assign_units", "kpis", "occupancy", "to_schedule"]


class AssignmentError(RuntimeError):
    """Units could not be assigned (more overlapping operations than units)."""


def occupancy(problem: Problem, i: int, t: Timing) -> tuple[int, int]:
    """The grain interval the operation holds its unit: changeover, processing, cleaning."""
    op = problem.ops[i]
    pad = problem.pad.get((t.group, op.product), 0)
    return t.start - t.setup, t.end + op.clean + pad


def assign_units(problem: Problem, timings: Sequence[Timing]) -> list[str]:
    """A unit for every operation (frozen ones keep theirs).

    Raises
    ------
    AssignmentError
        If a pooled group is overbooked at some time (a bug upstream).
    """
    units: list[str | None] = [t.unit for t in timings]
    by_group: dict[int, list[int]] = {}
    for i, t in enumerate(timings):
        g = problem.groups[t.group]
        if g.capacity == 1:
            units[i] = g.units[0]
        else:
            by_group.setdefault(t.group, []).append(i)
    for g_idx, ids in by_group.items():
        g = problem.groups[g_idx]
        free_at = dict.fromkeys(g.units, -(10**12))
        order = sorted(
            ids, key=lambda i: (occupancy(problem, i, timings[i]), timings[i].unit is None)
        )
        for i in order:
            a, b = occupancy(problem, i, timings[i])
            want = timings[i].unit
            if want is not None:
                if free_at.get(want, a) > a:
                    raise AssignmentError(f"frozen unit {want} is double-booked")
                free_at[want] = b
                units[i] = want
                continue
            choice = next((u for u in g.units if free_at[u] <= a), None)
            if choice is None:
                raise AssignmentError(
                    f"more than {g.capacity} operations overlap on {', '.join(g.units)}"
                )
            free_at[choice] = b
            units[i] = choice
    out: list[str] = []
    for u in units:
        assert u is not None
        out.append(u)
    return out


def kpis(problem: Problem, timings: Sequence[Timing], units: Sequence[str]) -> dict[str, float]:
    """Makespan [h], weighted tardiness [h], tardy orders, and changeovers on all units."""
    h = problem.grain.hours
    tard = 0.0
    late = 0
    for order in problem.orders:
        if order.due_h is None:
            continue
        end = max(
            timings[i].end * h
            for b in order.batches
            for i in problem.batches[b].ops
            if problem.ops[i].final
        )
        if end > order.due_h + 1e-6:
            late += 1
            tard += order.weight * (end - order.due_h)
    seq: dict[str, list[int]] = {}
    for i in range(len(timings)):
        seq.setdefault(units[i], []).append(i)
    changes = 0
    for ids in seq.values():
        ids.sort(key=lambda i: timings[i].start)
        for a, b in itertools.pairwise(ids):
            pa, pb = problem.ops[a], problem.ops[b]
            if pa.product != pb.product and problem.changeover(
                pa.equipment_class, pa.product, pb.product
            ):
                changes += 1
    return {
        "makespan_h": evaluate(problem, timings, "makespan") * h,
        "weighted_tardiness_h": round(tard, 6),
        "tardy_orders": float(late),
        "changeovers": float(changes),
    }


def to_schedule(
    problem: Problem,
    timings: Sequence[Timing],
    *,
    objective: str,
    status: ScheduleStatus,
    objective_value: float | None = None,
    best_bound: float | None = None,
    gap: float | None = None,
    solve_time_s: float = 0.0,
    stages: Sequence[StageResult] = (),
    notes: Sequence[str] = (),
) -> Schedule:
    """A :class:`Schedule` of complete timings (units assigned here)."""
    units = assign_units(problem, timings)
    h = problem.grain.hours
    site = problem.site
    op_rows: list[dict[str, Any]] = []
    seg_rows: list[dict[str, Any]] = []
    for op, t, unit in zip(problem.ops, timings, units, strict=True):
        b = problem.batches[op.batch]
        segs = problem.op_segments(op, t)
        peak: dict[str, int] = {}
        for s in segs:
            for n in s.needs:
                peak[n.skill] = max(peak.get(n.skill, 0), n.count)
            seg_rows.append(
                {
                    "batch": b.id,
                    "procedure": op.procedure,
                    "phase": s.phase,
                    "unit": unit,
                    "start_h": s.start * h,
                    "end_h": s.end * h,
                    "crew": format_crew([(n.skill, n.count) for n in s.needs]),
                }
            )
        op_rows.append(
            {
                "order": problem.orders[b.order].id,
                "batch": b.id,
                "product": op.product,
                "procedure": op.procedure,
                "equipment_class": op.equipment_class,
                "unit": unit,
                "start_h": t.start * h,
                "end_h": t.end * h,
                "setup_h": t.setup * h,
                "clean_end_h": (t.end + op.clean) * h,
                "crew": format_crew(sorted(peak.items())),
                "frozen": op.frozen is not None,
            }
        )
    ops_df = pd.DataFrame(op_rows, columns=OPERATION_COLUMNS)
    seg_df = pd.DataFrame(seg_rows, columns=SEGMENT_COLUMNS)
    return Schedule(
        site=site.id,
        epoch=site.epoch,
        grain_h=h,
        operations=ops_df,
        segments=seg_df,
        objective=objective,
        status=status,
        objective_value=objective_value,
        best_bound=best_bound,
        gap=gap,
        solve_time_s=solve_time_s,
        deadlines=problem.deadlines,
        duration_quantile=problem.duration_quantile,
        kpis=dict(kpis(problem, timings, units)),
        stages=list(stages),
        downtime=[Downtime(u, a, b, r) for u, a, b, r in problem.downtime],
        notes=list(notes),
        orders=[o.id for o in problem.orders],
    )
