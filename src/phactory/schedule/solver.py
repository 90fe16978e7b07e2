"""Solving: warm start, CP-SAT with progress, lexicographic stages, checked result.

:class:`Scheduler` (parameters only in ``__init__``, the work in :meth:`Scheduler.solve`)
and the shortcut :func:`solve`:

1. the plan becomes a :class:`~phactory.schedule.problem.Problem` on the time grain;
   quick checks (:func:`~phactory.schedule.explain.diagnose`) catch plans that can never
   be scheduled and say why;
2. a warm start: the dispatch heuristic (:mod:`.heuristic`, every batch order tried on
   small plans) or a schedule given by the caller (e.g. the twin's), converted and
   checked;
3. CP-SAT minimises the first objective with the warm start as its hint and its value
   as an upper bound, reporting each better incumbent and bound to ``progress(objective,
   bound, seconds)``; in a lexicographic objective each later stage keeps the earlier
   values as constraints and starts from the previous stage's best schedule;
4. the result is never worse than the warm start: if CP-SAT finds nothing better in the
   time limit, the warm-start schedule is returned (status ``heuristic``);
5. the schedule is verified by the independent :mod:`.checker`; an infeasible plan gets
   an explanation in words (:mod:`.explain`).

Times are in hours at the edges; the grain (default 0.25 h) is documented in
:mod:`.calendar`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from phactory.model import Site
from phactory.schedule.checker import check_schedule
from phactory.schedule.heuristic import DispatchOrder, HeuristicError, dispatch
from phactory.schedule.model_builder import BuiltModel, build_model
from phactory.schedule.objectives import (
    ObjectiveName,
    evaluate,
    meets_deadlines,
    parse_objective,
    to_report_units,
)
from phactory.schedule.problem import Problem, Timing
from phactory.schedule.problem_builder import build_problem
from phactory.schedule.schedule import Schedule, ScheduleStatus, StageResult
from phactory.schedule.solution import occupancy, to_schedule

__all__ = ["Progress", "Scheduler", "solve", "solve_problem", "timings_from_schedule"]

#: ``progress(objective, bound, seconds)`` in report units (hours, or a count).
Progress = Callable[[float, float, float], None]

_STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "invalid",
    cp_model.UNKNOWN: "unknown",
}


class _Callback(cp_model.CpSolverSolutionCallback):  # type: ignore[misc]
    """Reports improving incumbents and bounds; keeps the last solution's timings."""

    def __init__(
        self,
        built: BuiltModel,
        name: ObjectiveName,
        progress: Progress | None,
        t0: float,
    ) -> None:
        super().__init__()
        self.built = built
        self.name = name
        self.progress = progress
        self.t0 = t0
        self.lock = threading.Lock()
        self.best: float | None = None
        self.bound: float | None = None

    def _report(self) -> None:
        if self.progress is not None and self.best is not None:
            bound = self.bound if self.bound is not None else 0.0
            self.progress(self.best, bound, time.perf_counter() - self.t0)

    def on_solution_callback(self) -> None:
        p = self.built.problem
        with self.lock:
            self.best = to_report_units(p, self.name, self.ObjectiveValue())
            self.bound = to_report_units(p, self.name, self.BestObjectiveBound())
            self._report()

    def on_bound(self, bound: float) -> None:
        p = self.built.problem
        with self.lock:
            self.bound = to_report_units(p, self.name, bound)
            self._report()


@dataclass
class _Stage:
    name: ObjectiveName
    status: str
    value: int | None
    bound: int | None
    seconds: float


def _lex_key(
    problem: Problem, timings: Sequence[Timing], names: Sequence[ObjectiveName]
) -> tuple[int, ...]:
    return tuple(evaluate(problem, timings, n) for n in names)


def _model_horizon(problem: Problem, hint: Sequence[Timing] | None, first: ObjectiveName) -> int:
    """Upper bound of the time variables: tight for makespan, with room otherwise."""
    if hint is None:
        return problem.horizon
    occ_end = max(occupancy(problem, i, t)[1] for i, t in enumerate(hint))
    if first == "makespan":
        tail = max(op.clean + max(problem.pad.values(), default=0) for op in problem.ops)
        return min(problem.horizon, occ_end + tail)
    due = max((o.due for o in problem.orders if o.due is not None), default=0)
    span = max(occ_end, due)
    extra = max(span // 5, round(7 * 24 / problem.grain.hours))
    return min(problem.horizon, max(occ_end, span + extra))


def solve_problem(
    problem: Problem,
    objectives: Sequence[ObjectiveName],
    *,
    hint: Sequence[Timing] | None,
    hint_feasible: bool,
    time_limit_s: float,
    workers: int,
    seed: int = 0,
    progress: Progress | None = None,
    on_stage: Callable[[str], None] | None = None,
    log: bool = False,
    t0: float | None = None,
    parameters: dict[str, Any] | None = None,
) -> tuple[list[Timing] | None, list[_Stage], bool]:
    """Lexicographic CP-SAT solve.

    Returns
    -------
    (timings, stages, improved)
        The best timings (the hint if nothing better was found; ``None`` if there is no
        feasible schedule or none was found), the stage results [grains or counts], and
        whether CP-SAT's solution replaced the hint.
    """
    t0 = time.perf_counter() if t0 is None else t0
    deadline = t0 + time_limit_s
    built = build_model(problem, horizon=_model_horizon(problem, hint, objectives[0]))
    m = built.model
    best: list[Timing] | None = list(hint) if hint is not None and hint_feasible else None
    improved = False
    stages: list[_Stage] = []
    for k, name in enumerate(objectives):
        if on_stage is not None:
            on_stage(name)
        expr = built.objective(name)
        if best is not None and not isinstance(expr, int):
            m.add(expr <= evaluate(problem, best, name))
        m.minimize(expr)
        if best is not None:
            built.hint(best)
        elif hint is not None:
            built.hint(hint)
        solver = cp_model.CpSolver()
        left = deadline - time.perf_counter()
        share = left / (len(objectives) - k)
        solver.parameters.max_time_in_seconds = max(0.5, share)
        solver.parameters.num_workers = max(1, workers)
        solver.parameters.random_seed = seed
        solver.parameters.log_search_progress = log
        if len(problem.ops) > 200:
            # Probing in presolve costs more than it gives on large scheduling models.
            solver.parameters.cp_model_probing_level = 0
        for key, val in (parameters or {}).items():
            setattr(solver.parameters, key, val)
        cb = _Callback(built, name, progress, t0)
        solver.best_bound_callback = cb.on_bound
        ts = time.perf_counter()
        status = solver.solve(m, cb)
        secs = time.perf_counter() - ts
        st = _STATUS.get(status, "unknown")
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            timings = built.read(solver.value)
            bound = round(solver.best_objective_bound)
            if best is None or _lex_key(problem, timings, objectives[: k + 1]) < _lex_key(
                problem, best, objectives[: k + 1]
            ):
                improved = True
                best = timings
            stages.append(_Stage(name, st, evaluate(problem, best, name), bound, secs))
        elif status == cp_model.INFEASIBLE:
            if best is None:
                stages.append(_Stage(name, "infeasible", None, None, secs))
                return None, stages, False
            # The checked warm start contradicts the model (it should satisfy it): keep
            # the warm start and say nothing about optimality.
            stages.append(_Stage(name, "unknown", evaluate(problem, best, name), None, secs))
        else:
            kept = evaluate(problem, best, name) if best is not None else None
            stages.append(_Stage(name, "unknown", kept, None, secs))
        if best is None:
            return None, stages, False
        fixed = evaluate(problem, best, name)
        if not isinstance(expr, int):
            m.add(expr <= fixed)
    return best, stages, improved


def timings_from_schedule(problem: Problem, schedule: Schedule) -> list[Timing]:
    """Timings of a schedule for ``problem`` (a warm start from another dispatcher).

    Raises
    ------
    ValueError
        If the schedule does not cover the problem's operations or does not follow the
        recipes' phase structure on the grain.
    """
    g = problem.grain
    rows: dict[tuple[str, str], dict[Any, Any]] = {
        (str(r["batch"]), str(r["procedure"])): r
        for r in schedule.operations.to_dict(orient="records")
    }
    segs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for sg in schedule.segments.to_dict(orient="records"):
        segs.setdefault((str(sg["batch"]), str(sg["procedure"])), []).append(
            (float(sg["start_h"]), float(sg["end_h"]))
        )
    group_of = {u: grp.idx for grp in problem.groups for u in grp.units}
    out: list[Timing] = []
    for op in problem.ops:
        if op.frozen is not None:
            out.append(op.frozen)
            continue
        key = (problem.batches[op.batch].id, op.procedure)
        r = rows.get(key)
        if r is None:
            raise ValueError(f"{key[0]}/{key[1]} is not in the warm-start schedule")
        grp = group_of.get(str(r["unit"]))
        if grp is None or grp not in op.groups:
            raise ValueError(f"{key[0]}/{key[1]}: unit {r['unit']} cannot run it")
        mine = sorted(segs.get(key, []))
        pieces: list[tuple[int, tuple[tuple[int, int], ...]]] = []
        ptr = 0
        for piece in op.template.pieces:
            if ptr >= len(mine):
                raise ValueError(f"{key[0]}/{key[1]}: fewer phase segments than the recipe has")
            if piece.kind == "fixed":
                pieces.append((g.nearest(mine[ptr][0]), ()))
                ptr += len(piece.parts)
            else:
                chunks: list[tuple[int, int]] = []
                done = 0
                start = g.nearest(mine[ptr][0])
                while done < piece.length and ptr < len(mine):
                    a, b = g.nearest(mine[ptr][0]), g.nearest(mine[ptr][1])
                    chunks.append((a, b - a))
                    done += b - a
                    ptr += 1
                pieces.append((start, tuple(chunks)))
        out.append(
            Timing(
                start=g.nearest(float(r["start_h"])),
                end=g.nearest(float(r["end_h"])),
                group=grp,
                setup=g.nearest(float(r["setup_h"])),
                pieces=pieces,
            )
        )
    return out


def campaign_order(p: Problem) -> tuple[str, ...]:
    """Batch ids grouped by product, products in order of their first release."""
    first: dict[str, float] = {}
    for b in p.batches:
        first[b.product] = min(first.get(b.product, math.inf), p.orders[b.order].release)
    ranked = sorted(
        p.batches, key=lambda b: (first[b.product], b.product, p.orders[b.order].release, b.idx)
    )
    return tuple(b.id for b in ranked)


@dataclass
class Scheduler:
    """Finite-capacity scheduler of a site's plan with CP-SAT.

    Parameters
    ----------
    objective
        ``makespan``, ``tardiness``, ``changeovers`` or ``lex:a,b[,c]``.
    time_limit_s
        Wall-time budget of a solve, model building included [s] (the final check runs
        after it).
    workers
        CP-SAT search workers (threads).
    grain_h
        Time grain [h]; phase durations are rounded up to it.
    deadlines
        Treat due dates as hard deadlines (otherwise they only count as tardiness).
    max_pause_h
        Longest pause inside a unit procedure (waiting for a crew, between chunks of a
        pausable phase) [h].
    circuit_limit
        Largest number of candidate operations per unit for exact changeover sequencing.
    warm_start
        ``"heuristic"`` (the dispatch heuristic), ``"none"``, or a :class:`Schedule` to
        start from (checked first).
    dispatch_orders
        Batch orders the heuristic tries (the best is kept); by default ``edd``,
        ``release`` and, on plans of up to 3,000 operations, ``priority``, as long as a
        quarter of the time limit lasts. An order may be an explicit tuple of batch ids,
        e.g. the order of the plant twin's dispatching
        (:func:`phactory.study.scheduling.twin_dispatch_order`).
    campaigns
        Group batches of the same product into campaigns: the warm start also tries
        batches grouped by product (each product in order of its first release), and
        the number of changeovers becomes the last lexicographic objective, so product
        switches are minimised once the other objectives are at their best.
    duration_quantile
        Plan every phase at this quantile of its duration distribution (e.g. ``0.9``)
        instead of its mean, so that the schedule holds when durations vary (see
        :func:`phactory.schedule.problem.build_problem`); recorded in the schedule.
    seed
        CP-SAT random seed.
    check
        Verify the result with the independent checker (violations go to ``notes``).
    log
        Print CP-SAT's search log.
    parameters
        Extra CP-SAT parameters (``SatParameters`` field names), e.g.
        ``{"cp_model_probing_level": 0}``.
    """

    objective: str = "makespan"
    time_limit_s: float = 30.0
    workers: int = 2
    grain_h: float = 0.25
    deadlines: bool = False
    max_pause_h: float = 96.0
    circuit_limit: int = 80
    warm_start: str | Schedule = "heuristic"
    dispatch_orders: tuple[DispatchOrder | tuple[str, ...], ...] | None = None
    campaigns: bool = False
    duration_quantile: float | None = None
    seed: int = 0
    check: bool = True
    log: bool = False
    parameters: dict[str, Any] | None = None

    def problem(
        self, site: Site, *, days: float | None = None, orders: Sequence[str] | None = None
    ) -> Problem:
        """The scheduling problem this scheduler would solve."""
        return build_problem(
            site,
            grain_h=self.grain_h,
            days=days,
            orders=orders,
            max_pause_h=self.max_pause_h,
            circuit_limit=self.circuit_limit,
            deadlines=self.deadlines,
            duration_quantile=self.duration_quantile,
        )

    def solve(
        self,
        site: Site,
        *,
        days: float | None = None,
        orders: Sequence[str] | None = None,
        progress: Progress | None = None,
        on_stage: Callable[[str], None] | None = None,
        problem: Problem | None = None,
    ) -> Schedule:
        """Schedule ``site``'s plan (or the orders released in its first ``days`` days).

        Parameters
        ----------
        site
            A validated site with a plan.
        days, orders
            Restrict the plan (see :func:`~phactory.schedule.problem.build_problem`).
        progress
            Called as ``progress(objective, bound, seconds)`` when CP-SAT finds a better
            schedule or a better bound (hours, or a count for changeovers).
        on_stage
            Called with the objective name at the start of each lexicographic stage.
        problem
            A prepared problem (e.g. with frozen operations) instead of ``site``'s plan.

        Returns
        -------
        Schedule
            With ``status`` ``optimal``, ``feasible``, ``heuristic`` (the warm start was
            not improved), ``infeasible`` (with an explanation) or ``unknown``.
        """
        from phactory.schedule.explain import diagnose, explain_infeasibility

        t0 = time.perf_counter()
        names = parse_objective(self.objective)
        if self.campaigns and "changeovers" not in names:
            names = [*names, "changeovers"]
        spec = ",".join(names)
        p = problem if problem is not None else self.problem(site, days=days, orders=orders)
        scope = [o.id for o in p.orders]
        reasons = diagnose(p)
        if reasons:
            return Schedule.empty(
                site.id,
                site.epoch,
                p.grain.hours,
                status="infeasible",
                objective=spec,
                explanation="The plan cannot be scheduled: " + " ".join(reasons),
                solve_time_s=time.perf_counter() - t0,
                orders=scope,
            )
        notes: list[str] = []
        hint, hint_ok, hint_schedule = self._warm_start(site, p, names, notes)
        timings, stages, improved = solve_problem(
            p,
            names,
            hint=hint,
            hint_feasible=hint_ok,
            time_limit_s=max(0.5, self.time_limit_s - (time.perf_counter() - t0)),
            workers=self.workers,
            seed=self.seed,
            progress=progress,
            on_stage=on_stage,
            log=self.log,
            t0=t0,
            parameters=self.parameters,
        )
        stage_results = [
            StageResult(
                s.name,
                s.status,
                to_report_units(p, s.name, s.value) if s.value is not None else None,
                to_report_units(p, s.name, s.bound) if s.bound is not None else None,
                s.seconds,
            )
            for s in stages
        ]
        elapsed = time.perf_counter() - t0
        if timings is None:
            if stages and stages[-1].status == "infeasible":
                budget = max(5.0, min(60.0, self.time_limit_s))
                text = explain_infeasibility(
                    p, time_limit_s=budget, workers=self.workers, known_infeasible=True
                )
                return Schedule.empty(
                    site.id,
                    site.epoch,
                    p.grain.hours,
                    status="infeasible",
                    objective=spec,
                    explanation=text,
                    solve_time_s=time.perf_counter() - t0,
                    orders=scope,
                )
            out = Schedule.empty(
                site.id,
                site.epoch,
                p.grain.hours,
                status="unknown",
                objective=spec,
                explanation="No schedule was found within the time limit"
                + (" and the dispatch heuristic failed" if hint is None else "")
                + "; give more time.",
                solve_time_s=elapsed,
                orders=scope,
            )
            out.notes.extend(notes)
            return out
        status: ScheduleStatus
        if all(s.status == "optimal" for s in stages):
            status = "optimal"
        elif improved:
            status = "feasible"
        else:
            status = "heuristic"
        first = stage_results[0]
        value, bound = first.value, first.bound
        gap = None
        if value is not None and bound is not None:
            gap = 0.0 if value <= bound + 1e-9 else (value - bound) / max(abs(value), 1e-9)
        if status == "optimal":
            gap = 0.0
        sched = to_schedule(
            p,
            timings,
            objective=spec,
            status=status,
            objective_value=value,
            best_bound=bound,
            gap=gap,
            solve_time_s=elapsed,
            stages=stage_results,
            notes=notes,
        )
        if self.check:
            found = check_schedule(site, sched)
            if found and improved and hint_schedule is not None:
                notes.append(
                    f"the solver's schedule failed {len(found)} check(s) "
                    f"(first: {found[0]}); the warm start is returned instead"
                )
                sched = hint_schedule
                sched.status = "heuristic"
                sched.notes = list(notes)
            elif found:
                sched.notes.append(f"{len(found)} check violation(s); first: {found[0]}")
        return sched

    def _warm_start(
        self, site: Site, p: Problem, names: Sequence[ObjectiveName], notes: list[str]
    ) -> tuple[list[Timing] | None, bool, Schedule | None]:
        hint: list[Timing] | None = None
        if isinstance(self.warm_start, Schedule):
            try:
                hint = timings_from_schedule(p, self.warm_start)
            except ValueError as exc:
                notes.append(f"warm start ignored: {exc}")
                hint = None
        elif self.warm_start == "heuristic":
            rules = self.dispatch_orders or (
                ("edd", "release", "priority") if len(p.ops) <= 3000 else ("edd", "release")
            )
            if self.campaigns:
                rules = (campaign_order(p), *rules)
            best_key: tuple[int, ...] | None = None
            errors = []
            t_start = time.perf_counter()
            for rule in rules:
                if hint is not None and time.perf_counter() - t_start > 0.25 * self.time_limit_s:
                    break
                try:
                    cand = dispatch(p, rule)
                except HeuristicError as exc:
                    errors.append(str(exc))
                    continue
                key = (int(not meets_deadlines(p, cand)), *_lex_key(p, cand, names))
                if best_key is None or key < best_key:
                    best_key, hint = key, cand
            if hint is None and errors:
                notes.append(f"dispatch heuristic failed: {errors[0]}")
        elif self.warm_start != "none":
            raise ValueError(f"unknown warm start {self.warm_start!r}")
        if hint is None:
            return None, False, None
        ok = meets_deadlines(p, hint)
        schedule: Schedule | None = None
        if ok:
            schedule = to_schedule(
                p,
                hint,
                objective=",".join(names),
                status="heuristic",
                objective_value=to_report_units(p, names[0], evaluate(p, hint, names[0])),
            )
            found = check_schedule(site, schedule) if self.check else []
            if found:
                notes.append(
                    f"warm start fails {len(found)} check(s), used as a hint only: {found[0]}"
                )
                ok = False
                schedule = None
        return hint, ok, schedule


def solve(site: Site, **kwargs: Any) -> Schedule:
    """Schedule a site's plan: ``solve(site, objective="lex:tardiness,makespan", ...)``.

    Keyword arguments are those of :class:`Scheduler` and of :meth:`Scheduler.solve`.
    """
    solve_kw = {
        k: kwargs.pop(k)
        for k in ("days", "orders", "progress", "on_stage", "problem")
        if k in kwargs
    }
    return Scheduler(**kwargs).solve(site, **solve_kw)
