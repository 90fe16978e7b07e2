"""Priority-rule dispatching for (flexible) job shops: fast upper bounds and solver hints.

The generator is Giffler & Thompson's active-schedule algorithm [1]_ extended to flexible
shops in the usual way: each ready operation first picks the eligible machine on which it
would finish earliest, then the conflict set on the machine of the earliest finishing
operation is resolved by a priority rule (most work remaining, shortest processing time,
...). Random tie-breaking restarts give a handful of different schedules; the best one
becomes CP-SAT's horizon and solution hint.

Nothing here reads a stored answer: every schedule is built from the instance data only.

References
----------
.. [1] B. Giffler, G. L. Thompson (1960). Algorithms for solving production-scheduling
   problems. *Operations Research* 8(4), 487-503.
.. [2] S. S. Panwalkar, W. Iskander (1977). A survey of scheduling rules. *Operations
   Research* 25(1), 45-61.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Literal

from phactory.schedule.benchmarks.instances import Assignment, Schedule, ShopInstance

__all__ = ["DispatchRule", "best_dispatch", "dispatch"]

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
