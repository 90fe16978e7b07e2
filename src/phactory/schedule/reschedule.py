"""Reactive rescheduling after a unit breakdown.

``reschedule(site, schedule, Breakdown("BR-02", at_h=1200.0, repair_h=36.0))``:

* the unit is out of service for ``[at_h, at_h + repair_h)`` (widened to the grain);
* every unit procedure that started before ``at_h`` is frozen: it keeps its unit and its
  times; one running on the failed unit is paused for the repair and resumes after it
  (as the twin does), so its remaining phases move by the repair time;
* a planned maintenance window that the paused batch now runs into is deferred until
  the unit is clean again (recorded as downtime after the window);
* everything else is scheduled again from ``at_h`` with the same objective (the old
  schedule's units and times are not binding), with the dispatch heuristic on the
  current state as warm start;
* the result comes with a diff: per unit procedure, its old and new unit and start and
  whether it was ``moved``, ``reassigned``, ``moved+reassigned`` or ``unchanged``.

This is the "complete rescheduling" strategy with frozen started work of Vieira, Herrmann
& Lin [1]_; the schedule stays in the twin's form (rows with unit and planned start).

References
----------
.. [1] G. E. Vieira, J. W. Herrmann, E. Lin (2003). Rescheduling manufacturing systems:
   a framework of strategies, policies, and methods. *Journal of Scheduling* 6, 39-62.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from phactory.model import Site
from phactory.schedule.calendar import maintenance_intervals
from phactory.schedule.problem import CrewNeed, FrozenOp
from phactory.schedule.problem_builder import build_problem
from phactory.schedule.schedule import Schedule, parse_crew
from phactory.schedule.solver import Progress, Scheduler

__all__ = ["Breakdown", "RescheduleResult", "diff_schedules", "reschedule"]


@dataclass(frozen=True, slots=True)
class Breakdown:
    """``unit`` fails at ``at_h`` and is repaired ``repair_h`` later [h from the epoch]."""

    unit: str
    at_h: float
    repair_h: float
    reason: str = "breakdown"


@dataclass
class RescheduleResult:
    """The new schedule and what changed."""

    schedule: Schedule
    diff: pd.DataFrame
    frozen: int
    moved: int
    reassigned: int


def diff_schedules(old: Schedule, new: Schedule, *, tol_h: float = 1e-6) -> pd.DataFrame:
    """Per unit procedure: old/new unit and start, shift [h] and the kind of change."""
    a = old.operations[["batch", "procedure", "unit", "start_h"]].rename(
        columns={"unit": "old_unit", "start_h": "old_start_h"}
    )
    b = new.operations[["batch", "procedure", "unit", "start_h"]].rename(
        columns={"unit": "new_unit", "start_h": "new_start_h"}
    )
    df = a.merge(b, on=["batch", "procedure"], how="outer")
    df["shift_h"] = df["new_start_h"] - df["old_start_h"]

    def kind(r: Any) -> str:
        moved = not (abs(float(r.shift_h)) <= tol_h) if pd.notna(r.shift_h) else True
        again = r.old_unit != r.new_unit
        if moved and again:
            return "moved+reassigned"
        if again:
            return "reassigned"
        return "moved" if moved else "unchanged"

    df["change"] = [kind(r) for r in df.itertuples(index=False)]
    return df.sort_values(["new_start_h", "batch"]).reset_index(drop=True)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in df.to_dict(orient="records")]


def _needs(text: str) -> tuple[CrewNeed, ...]:
    return tuple(
        sorted((CrewNeed(s, c) for s, c in parse_crew(text)), key=lambda n: (n.skill, n.count))
    )


def _defer_maintenance(
    site: Site, unit: str, start: float, end: float
) -> list[tuple[str, float, float, str]]:
    """Maintenance windows a paused batch now runs into are deferred until it is cleaned.

    The deferred part beyond the original window is returned as downtime, so that later
    work on the unit leaves room for the whole maintenance.
    """
    cls = site.equipment_classes[site.units[unit].equipment_class]
    occ_end = end + cls.cleaning.duration
    out = []
    for m0, m1 in maintenance_intervals(site, occ_end + 1.0).get(unit, []):
        if m0 < occ_end and m1 > start:
            new_end = occ_end + (m1 - m0)
            if new_end > max(m1, occ_end):
                out.append((unit, max(m1, occ_end), new_end, "maintenance deferred by a breakdown"))
    return out


def reschedule(
    site: Site,
    schedule: Schedule,
    breakdown: Breakdown,
    *,
    objective: str | None = None,
    time_limit_s: float = 30.0,
    workers: int = 2,
    progress: Progress | None = None,
    on_stage: Callable[[str], None] | None = None,
    **scheduler: Any,
) -> RescheduleResult:
    """Re-solve ``schedule`` after ``breakdown`` with started work frozen.

    Parameters
    ----------
    site
        The site the schedule is for.
    schedule
        The schedule being executed.
    breakdown
        The failed unit, the time of failure and the repair time [h].
    objective
        Objective of the new solve (default: the schedule's).
    time_limit_s, workers, progress, on_stage
        As for :class:`~phactory.schedule.solver.Scheduler`.
    **scheduler
        Further :class:`Scheduler` parameters (``max_pause_h``, ...).

    Returns
    -------
    RescheduleResult
    """
    if breakdown.unit not in site.units:
        raise ValueError(f"unknown unit {breakdown.unit!r}")
    if not breakdown.repair_h > 0:
        raise ValueError("the repair time must be positive")
    g = schedule.grain_h
    down0 = math.floor(breakdown.at_h / g + 1e-9) * g
    down1 = math.ceil((breakdown.at_h + breakdown.repair_h) / g - 1e-9) * g
    pause = down1 - down0
    ops = schedule.operations
    segs = schedule.segments
    seg_by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for sg in _records(segs):
        seg_by.setdefault((str(sg["batch"]), str(sg["procedure"])), []).append(sg)
    frozen: dict[tuple[str, str], FrozenOp] = {}
    deferred: list[tuple[str, float, float, str]] = []
    for r in _records(ops):
        start = float(r["start_h"])
        if start >= breakdown.at_h - 1e-9:
            continue
        key = (str(r["batch"]), str(r["procedure"]))
        unit = str(r["unit"])
        mine = sorted(seg_by.get(key, []), key=lambda x: float(x["start_h"]))
        out_segs: list[tuple[str, float, float, tuple[CrewNeed, ...]]] = []
        end = float(r["end_h"])
        paused = unit == breakdown.unit and end > down0 + 1e-9
        for sg in mine:
            a, b = float(sg["start_h"]), float(sg["end_h"])
            phase = str(sg["phase"])
            needs = _needs(str(sg["crew"]))
            if not paused or b <= down0 + 1e-9:
                out_segs.append((phase, a, b, needs))
            elif a >= down0 - 1e-9:
                out_segs.append((phase, a + pause, b + pause, needs))
            else:
                out_segs.append((phase, a, down0, needs))
                out_segs.append((phase, down1, b + pause, needs))
        if paused:
            end += pause
            deferred.extend(_defer_maintenance(site, unit, start, end))
        frozen[key] = FrozenOp(
            unit=unit,
            start_h=start,
            end_h=end,
            segments=tuple(out_segs),
            setup_h=float(r["setup_h"]),
        )
    downtime = [(d.unit, d.start_h, d.end_h, d.reason) for d in schedule.downtime]
    downtime.append((breakdown.unit, down0, down1, breakdown.reason))
    downtime.extend(deferred)
    sched = Scheduler(
        objective=objective or schedule.objective,
        time_limit_s=time_limit_s,
        workers=workers,
        grain_h=g,
        deadlines=schedule.deadlines,
        duration_quantile=schedule.duration_quantile,
        **scheduler,
    )
    problem = build_problem(
        site,
        grain_h=g,
        orders=schedule.orders
        if schedule.orders is not None
        else sorted(set(ops["order"].astype(str))),
        max_pause_h=sched.max_pause_h,
        circuit_limit=sched.circuit_limit,
        deadlines=schedule.deadlines,
        downtime=downtime,
        frozen=frozen,
        start_after_h=breakdown.at_h,
        duration_quantile=schedule.duration_quantile,
    )
    new = sched.solve(site, problem=problem, progress=progress, on_stage=on_stage)
    if not new.feasible:
        empty = pd.DataFrame(
            columns=[
                "batch",
                "procedure",
                "old_unit",
                "new_unit",
                "old_start_h",
                "new_start_h",
                "shift_h",
                "change",
            ]
        )
        return RescheduleResult(new, empty, len(frozen), 0, 0)
    diff = diff_schedules(schedule, new)
    moved = int(diff["change"].isin(["moved", "moved+reassigned"]).sum())
    again = int(diff["change"].isin(["reassigned", "moved+reassigned"]).sum())
    new = replace(
        new,
        notes=[*new.notes, f"rescheduled after {breakdown.unit} failed at {breakdown.at_h:g} h"],
    )
    return RescheduleResult(new, diff, len(frozen), moved, again)
