"""A dedicated CP-SAT model of the (flexible) job shop: the reference the product is
measured against, and the solver of the flexible ``mk`` suite.

``phactory bench scheduling`` runs the product's scheduler (the site model, problem
builder and CP-SAT model every user runs) on job shops expressed as sites
(:mod:`phactory.schedule.benchmarks.shop_site`). A *flexible* job shop cannot be
expressed as a site (machine-dependent processing times, eligible-machine sets that are
not equipment classes), so Brandimarte's ``mk`` instances are solved here, by the model
below, which is not the product's solver. ``benchmarks/scheduling.py --solver
reference`` also runs it on the classical suites for comparison.

Giffler-Thompson dispatching
----------------------------

The generator is Giffler & Thompson's active-schedule algorithm [1]_ extended to flexible
shops in the usual way: each ready operation first picks the eligible machine on which it
would finish earliest, then the conflict set on the machine of the earliest finishing
operation is resolved by a priority rule (most work remaining, shortest processing time,
...). Random tie-breaking restarts give a handful of different schedules; the best one
becomes CP-SAT's horizon and solution hint.

Nothing here reads a stored answer: every schedule is built from the instance data only.

CP-SAT model
------------
For each operation ``(j, o)`` an integer start ``s`` and, per eligible machine ``k``, a
fixed-size interval ``[s, s + p_k)``. A JSP operation has one mandatory interval; an FJSP
operation with several machines gets one *optional* interval per machine with a presence
literal ``x_k`` and ``sum_k x_k = 1`` (the classical alternative-resource encoding of
interval-based CP models [5]_). Its duration is ``sum_k p_k x_k``. Each machine carries a
``NoOverlap`` over the intervals that may run on it; job order is ``s_{o+1} >= e_o``; and
the makespan is the maximum end of the last operations of the jobs.

Helping the search
------------------
* The horizon (upper bound of every variable) is the makespan of the best priority-rule
  schedule found in a fraction of a second (Giffler-Thompson, above)
  rather than the sum of durations, which shrinks every domain by a large factor.
* That schedule is also given to CP-SAT as a solution hint, so the first incumbent is
  available at once and large-neighbourhood search starts from a good point.
* For FJSP a redundant ``Cumulative`` over one "any machine" interval per operation
  (capacity = number of machines) lets the propagators and the LP relaxation see the
  aggregate capacity that the per-machine ``NoOverlap`` constraints split up.
* Start variables get the earliest start and latest start implied by their job's chain.

No solution or bound is ever read from the benchmark catalog: the best-known values are
used only by callers to report gaps.

References
----------
.. [1] B. Giffler, G. L. Thompson (1960). Algorithms for solving production-scheduling
   problems. *Operations Research* 8(4), 487-503.
.. [2] S. S. Panwalkar, W. Iskander (1977). A survey of scheduling rules. *Operations
   Research* 25(1), 45-61.
.. [3] Google OR-Tools CP-SAT solver, https://developers.google.com/optimization.
.. [4] L. Perron, F. Didier, S. Gay (2023). The CP-SAT-LP solver. *29th International
   Conference on Principles and Practice of Constraint Programming (CP 2023)*, LIPIcs 280.
.. [5] P. Laborie, J. Rogerie, P. Shaw, P. Vilim (2018). IBM ILOG CP Optimizer for
   scheduling. *Constraints* 23, 210-250.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from ortools.sat.python import cp_model

from phactory.schedule.benchmarks.checker import check_schedule
from phactory.schedule.benchmarks.instances import Assignment, Schedule, ShopInstance
from phactory.schedule.benchmarks.runner import Progress, SolveResult, SolveStatus

__all__ = [
    "DispatchRule",
    "Progress",
    "SolveResult",
    "SolveStatus",
    "best_dispatch",
    "dispatch",
    "solve",
]

DispatchRule = Literal["mwkr", "spt", "lpt", "mopnr", "random"]

_RULES: tuple[DispatchRule, ...] = ("mwkr", "mopnr", "spt", "lpt")


def dispatch(
    instance: ShopInstance, rule: DispatchRule = "mwkr", rng: random.Random | None = None
) -> Schedule:
    """Build one active schedule with the given priority rule.

    Parameters
    ----------
    instance
        The (flexible) job shop.
    rule
        ``"mwkr"`` most work remaining, ``"mopnr"`` most operations remaining, ``"spt"``
        shortest processing time, ``"lpt"`` longest processing time, ``"random"``.
    rng
        When given, ties (and the ``"random"`` rule) are broken randomly; machine choice
        in flexible shops is also perturbed occasionally, which diversifies restarts.

    Returns
    -------
    Schedule
        A feasible schedule (every operation on an eligible machine, no overlaps).
    """
    jobs = instance.jobs
    # Remaining work uses shortest durations: a lower estimate that is fair across machines.
    remaining = [sum(op.min_duration for op in job) for job in jobs]
    next_op = [0] * len(jobs)
    job_ready = [0] * len(jobs)
    machine_ready = [0] * instance.n_machines
    out: list[Assignment] = []
    priority = _priority(rule, rng)

    while True:
        # (job, machine, start, end) of each ready operation on its chosen machine.
        ready: list[tuple[int, int, int, int]] = []
        for j, job in enumerate(jobs):
            o = next_op[j]
            if o >= len(job):
                continue
            best: tuple[int, int, int, int] | None = None
            for alt in job[o].alternatives:
                start = max(job_ready[j], machine_ready[alt.machine])
                key = (start + alt.duration, alt.duration, alt.machine, start)
                if best is None or key < best:
                    best = key
            assert best is not None
            if rng is not None and len(job[o].alternatives) > 1 and rng.random() < 0.1:
                alt = rng.choice(job[o].alternatives)
                start = max(job_ready[j], machine_ready[alt.machine])
                best = (start + alt.duration, alt.duration, alt.machine, start)
            ready.append((j, best[2], best[3], best[0]))
        if not ready:
            break
        # Giffler-Thompson: the operation finishing first fixes the machine in conflict;
        # any operation there that could start before that finish competes for it.
        _, m_star, _, c_star = min(ready, key=lambda r: (r[3], r[1]))
        conflict = [r for r in ready if r[1] == m_star and r[2] < c_star]
        j, m, start, end = max(
            conflict,
            key=lambda r: priority(r[3] - r[2], remaining[r[0]], len(jobs[r[0]]) - next_op[r[0]]),
        )
        out.append(Assignment(j, next_op[j], m, start, end))
        remaining[j] -= jobs[j][next_op[j]].min_duration
        next_op[j] += 1
        job_ready[j] = end
        machine_ready[m] = end
    return Schedule(tuple(out))


def _priority(
    rule: DispatchRule, rng: random.Random | None
) -> Callable[[int, int, int], tuple[float, float]]:
    def noise() -> float:
        return rng.random() if rng is not None else 0.0

    if rule == "mwkr":
        return lambda dur, work, ops: (float(work), noise())
    if rule == "mopnr":
        return lambda dur, work, ops: (float(ops), float(work) + noise())
    if rule == "spt":
        return lambda dur, work, ops: (float(-dur), float(work) + noise())
    if rule == "lpt":
        return lambda dur, work, ops: (float(dur), float(work) + noise())
    return lambda dur, work, ops: (noise(), 0.0)


def best_dispatch(
    instance: ShopInstance, time_budget: float = 0.5, seed: int = 0, max_restarts: int = 200
) -> Schedule:
    """Best schedule over the deterministic rules and seeded randomised restarts.

    Parameters
    ----------
    instance
        The (flexible) job shop.
    time_budget
        Wall-clock seconds for the randomised restarts (the deterministic rules always run).
    seed
        Seed of the restarts; the result is reproducible for a given seed and budget that
        is not hit (``max_restarts`` bounds the work for determinism on fast machines).
    max_restarts
        Upper bound on randomised restarts.
    """
    best = min((dispatch(instance, rule) for rule in _RULES), key=lambda s: s.makespan)
    rng = random.Random(seed)
    deadline = time.monotonic() + time_budget
    for i in range(max_restarts):
        if time.monotonic() >= deadline:
            break
        cand = dispatch(instance, _RULES[i % len(_RULES)], rng)
        if cand.makespan < best.makespan:
            best = cand
    return best


_STATUS: dict[Any, SolveStatus] = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
}


class _Reporter(cp_model.CpSolverSolutionCallback):  # type: ignore[misc]
    """Forwards incumbent and bound improvements to the user callback, deduplicated."""

    def __init__(self, start: float, progress: Progress | None, initial_bound: int) -> None:
        super().__init__()
        self._start = start
        self._progress = progress
        self._lock = threading.Lock()
        self.incumbent: int | None = None
        self.bound = initial_bound
        self.trace: list[tuple[int | None, int, float]] = []

    def _emit(self) -> None:
        item = (self.incumbent, self.bound, time.monotonic() - self._start)
        self.trace.append(item)
        if self._progress is not None:
            self._progress(*item)

    def on_solution_callback(self) -> None:
        value = round(self.ObjectiveValue())
        bound = math.ceil(self.BestObjectiveBound() - 1e-6)
        with self._lock:
            if self.incumbent is None or value < self.incumbent:
                self.incumbent = value
                self.bound = max(self.bound, bound)
                self._emit()

    def on_bound(self, value: float) -> None:
        bound = math.ceil(value - 1e-6)
        with self._lock:
            if bound > self.bound:
                self.bound = bound
                self._emit()


def solve(
    instance: ShopInstance,
    *,
    time_limit: float = 10.0,
    num_workers: int = 2,
    hint: Schedule | Literal["dispatch"] | None = "dispatch",
    progress: Progress | None = None,
    seed: int = 0,
    log: bool = False,
    parameters: dict[str, Any] | None = None,
    redundant_cumulative: bool = True,
) -> SolveResult:
    """Minimise the makespan of a (flexible) job shop with CP-SAT.

    Parameters
    ----------
    instance
        The job shop; machines 0-based as produced by the readers.
    time_limit
        Wall-clock limit [s] for the whole call; the dispatch hint takes at most 5 % of it.
    num_workers
        CP-SAT worker threads. More workers than cores are time-sliced by the OS, which can
        still pay off because the portfolio is more diverse.
    hint
        ``"dispatch"`` (default) computes a priority-rule schedule and uses it as hint and
        horizon; a :class:`Schedule` is used as given (it must be feasible to bound the
        horizon, and is only a hint to CP-SAT otherwise); ``None`` uses neither.
    progress
        Called with ``(incumbent, bound, seconds)`` whenever either improves.
    seed
        CP-SAT random seed and dispatch seed; fixed seed and single worker give repeatable
        runs, multi-worker runs are not bit-for-bit deterministic under a time limit.
    log
        Print CP-SAT's search log.
    parameters
        Extra ``SatParameters`` fields, e.g. ``{"use_lns_only": True}``; for experiments.
    redundant_cumulative
        Add the redundant aggregate-capacity ``Cumulative`` for flexible instances.

    Returns
    -------
    SolveResult
    """
    start = time.monotonic()
    hint_schedule: Schedule | None
    if hint == "dispatch":
        hint_schedule = best_dispatch(instance, time_budget=min(1.0, 0.05 * time_limit), seed=seed)
    else:
        hint_schedule = hint
    lower = instance.trivial_lower_bound()
    horizon = instance.horizon()
    hint_feasible = hint_schedule is not None and not check_schedule(instance, hint_schedule)
    if hint_schedule is not None and hint_feasible:
        # Only a schedule known to be feasible may cap the horizon; otherwise an invalid
        # user hint could make the model infeasible instead of merely being ignored.
        horizon = min(horizon, hint_schedule.makespan)
    horizon = max(horizon, lower)

    model = cp_model.CpModel()
    starts: dict[tuple[int, int], cp_model.IntVar] = {}
    presences: dict[tuple[int, int], list[tuple[int, Any]]] = {}
    machine_intervals: list[list[Any]] = [[] for _ in range(instance.n_machines)]
    ends: dict[tuple[int, int], Any] = {}
    any_machine: list[Any] = []
    mandatory: list[Any] = []

    for j, job in enumerate(instance.jobs):
        # Earliest start / latest end from the job chain alone: cheap, tightens domains.
        head = 0
        tail = sum(op.min_duration for op in job)
        for o, op in enumerate(job):
            tail -= op.min_duration
            s = model.new_int_var(head, max(head, horizon - tail - op.min_duration), f"s{j}_{o}")
            starts[j, o] = s
            if len(op.alternatives) == 1:
                alt = op.alternatives[0]
                iv = model.new_fixed_size_interval_var(s, alt.duration, f"i{j}_{o}")
                machine_intervals[alt.machine].append(iv)
                mandatory.append(iv)
                ends[j, o] = s + alt.duration
                presences[j, o] = [(alt.machine, True)]
            else:
                lits = []
                for alt in op.alternatives:
                    x = model.new_bool_var(f"x{j}_{o}_{alt.machine}")
                    iv = model.new_optional_fixed_size_interval_var(
                        s, alt.duration, x, f"i{j}_{o}_{alt.machine}"
                    )
                    machine_intervals[alt.machine].append(iv)
                    lits.append((alt.machine, x))
                model.add_exactly_one(x for _, x in lits)
                presences[j, o] = lits
                chosen = sum(
                    a.duration * x for a, (_, x) in zip(op.alternatives, lits, strict=True)
                )
                if redundant_cumulative:
                    duration = model.new_int_var_from_domain(
                        cp_model.Domain.from_values(sorted({a.duration for a in op.alternatives})),
                        f"d{j}_{o}",
                    )
                    model.add(duration == chosen)
                    e = model.new_int_var(head + op.min_duration, horizon, f"e{j}_{o}")
                    any_machine.append(model.new_interval_var(s, duration, e, f"a{j}_{o}"))
                    ends[j, o] = e
                else:
                    # Leaner model: the end is an expression, no extra variables.
                    ends[j, o] = s + chosen
            if o > 0:
                model.add(s >= ends[j, o - 1])
            head += op.min_duration

    for intervals in machine_intervals:
        if len(intervals) > 1:
            model.add_no_overlap(intervals)
    if redundant_cumulative and any_machine and instance.n_machines > 1:
        # Redundant: at most n_machines operations at once. Lets the LP/energetic
        # reasoning see the aggregate capacity that the per-machine constraints split up.
        everything = any_machine + mandatory
        model.add_cumulative(everything, [1] * len(everything), instance.n_machines)

    makespan = model.new_int_var(lower, horizon, "makespan")
    model.add_max_equality(makespan, [ends[j, len(job) - 1] for j, job in enumerate(instance.jobs)])
    model.minimize(makespan)

    if hint_schedule is not None:
        _add_hint(model, hint_schedule, starts, presences, makespan)

    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = max(0.01, time_limit - (time.monotonic() - start))
    params.num_workers = num_workers
    params.random_seed = seed
    params.log_search_progress = log
    for key, value in (parameters or {}).items():
        _set_param(params, key, value)

    reporter = _Reporter(start, progress, lower)
    solver.best_bound_callback = reporter.on_bound
    code = solver.solve(model, reporter)
    seconds = time.monotonic() - start

    status: SolveStatus = _STATUS.get(code, "unknown")
    if status in ("optimal", "feasible"):
        value = round(solver.objective_value)
        bound = value if status == "optimal" else math.ceil(solver.best_objective_bound - 1e-6)
        # The proof of optimality often closes the bound without a bound callback; report
        # that last step too so that progress consumers see the final state.
        reporter.on_bound(float(max(bound, lower)))
        schedule = _extract(instance, solver, starts, presences)
        return SolveResult(
            instance.name,
            status,
            value,
            max(bound, lower),
            seconds,
            schedule,
            tuple(reporter.trace),
        )
    bound = max(lower, reporter.bound)
    if status == "unknown" and hint_schedule is not None and hint_feasible:
        # CP-SAT found nothing in time (tiny limits), but the hint passed the checker:
        # report it rather than nothing.
        return SolveResult(
            instance.name,
            "feasible",
            hint_schedule.makespan,
            bound,
            seconds,
            hint_schedule,
            tuple(reporter.trace),
        )
    return SolveResult(instance.name, status, None, bound, seconds, None, tuple(reporter.trace))


def _set_param(params: Any, key: str, value: Any) -> None:
    field_ = getattr(params, key)
    if hasattr(field_, "extend"):
        field_.clear()
        field_.extend(value)
    else:
        setattr(params, key, value)


def _add_hint(
    model: cp_model.CpModel,
    schedule: Schedule,
    starts: dict[tuple[int, int], cp_model.IntVar],
    presences: dict[tuple[int, int], list[tuple[int, Any]]],
    makespan: cp_model.IntVar,
) -> None:
    for a in schedule.assignments:
        key = (a.job, a.op)
        if key not in starts:
            continue
        model.add_hint(starts[key], a.start)
        for machine, lit in presences[key]:
            if not isinstance(lit, bool):
                model.add_hint(lit, machine == a.machine)
    model.add_hint(makespan, schedule.makespan)


def _extract(
    instance: ShopInstance,
    solver: cp_model.CpSolver,
    starts: dict[tuple[int, int], cp_model.IntVar],
    presences: dict[tuple[int, int], list[tuple[int, Any]]],
) -> Schedule:
    out: list[Assignment] = []
    for j, o, op in instance.operations():
        s = solver.value(starts[j, o])
        machine = next(
            m for m, lit in presences[j, o] if isinstance(lit, bool) or solver.boolean_value(lit)
        )
        duration = op.duration_on(machine)
        assert duration is not None
        out.append(Assignment(j, o, machine, s, s + duration))
    return Schedule(tuple(out))
