"""Why a plan cannot be scheduled, in words.

Two steps:

:func:`diagnose`
    Quick checks that need no search: a phase needing more people than are ever on
    duty, a crew needed for longer without a break than any shift lasts, an operation
    longer than any gap between a unit's maintenance windows, a due date (when due dates
    are hard deadlines) closer to the release than the recipe's shortest duration.
:func:`explain_infeasibility`
    When CP-SAT proves the plan infeasible, the model is rebuilt without one constraint
    family at a time (hard deadlines, hold times / maximum lags, unit calendars, shift
    calendars, crew sizes); a family whose removal restores feasibility is to blame,
    and its members (which order, which link of which recipe, which unit, which
    skills) are then relaxed one at a time to name the culprits. This is the deletion
    filter for irreducible infeasible subsets of Chinneck [1]_, applied to families.

References
----------
.. [1] J. W. Chinneck (2008). *Feasibility and Infeasibility in Optimization*,
   Springer, ch. 2 (deletion filter, IIS).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ortools.sat.python import cp_model

from phactory.schedule.heuristic import HeuristicError, dispatch
from phactory.schedule.model_builder import build_model
from phactory.schedule.objectives import meets_deadlines
from phactory.schedule.problem import Problem, Timing

#: ``family -> None`` (relax all of it) or ``family -> keys`` (relax those members):
#: order ids (deadlines), ``(recipe, from, to)`` links (max_lags), unit group indices
#: (calendars), labour group indices (shifts, crews).
Omit = dict[str, set[Any] | None]

_MANY = 10**6

__all__ = ["FAMILY_NAMES", "diagnose", "explain_infeasibility"]

#: Constraint families in words.
FAMILY_NAMES = {
    "deadlines": "due dates as hard deadlines",
    "max_lags": "hold times (maximum time lags between unit procedures)",
    "calendars": "unit calendars (planned maintenance and breakdowns)",
    "shifts": "shift calendars (people only work on shift)",
    "crews": "crew sizes (people needed against headcount)",
}


def _skills(skills: frozenset[str]) -> str:
    return " / ".join(sorted(skills))


def _longest(profile: Sequence[tuple[int, int, int]], need: int) -> int:
    best, run = 0, None
    for a, b, c in profile:
        if c >= need:
            run = a if run is None else run
            best = max(best, b - run)
        else:
            run = None
    return best


def diagnose(problem: Problem) -> list[str]:
    """Reasons the plan can never be scheduled, found without search (empty if none)."""
    p = problem
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    h = p.grain.hours
    for op in p.ops:
        tpl = op.template
        key = (tpl.recipe, tpl.procedure)
        if key in seen or op.frozen is not None:
            continue
        seen.add(key)
        where = f"unit procedure {tpl.procedure!r} of recipe {tpl.recipe!r}"
        for piece in tpl.pieces:
            for part in piece.parts:
                if not part.needs:
                    continue
                crew = ", ".join(f"{n.skill} x{n.count}" for n in part.needs)
                for lg_idx, dem in p.demands(part.needs):
                    lg = p.labour[lg_idx]
                    if dem > lg.cmax:
                        out.append(
                            f"Phase {part.phase!r} of {where} needs {crew}, but at most "
                            f"{lg.cmax} people with {_skills(lg.skills)} are ever on duty."
                        )
                        continue
                    if piece.kind == "fixed":
                        w = _longest(lg.profile, dem)
                        if part.length > w:
                            out.append(
                                f"Phase {part.phase!r} of {where} needs {crew} for "
                                f"{part.length * h:g} h without a break, but the longest time "
                                f"with {dem} people of {_skills(lg.skills)} on duty is "
                                f"{w * h:g} h (a continuous phase cannot pause at a shift end)."
                            )
    # Operations longer than any gap between a unit group's unavailable windows.
    for op in p.ops:
        if op.frozen is not None:
            continue
        need = op.template.min_length + op.clean
        fits = False
        for g in op.groups:
            blocks = [(a, b) for a, b in p.groups[g].blocks if b > op.release]
            cur = op.release
            for a, b in blocks:
                if a - cur >= need:
                    fits = True
                    break
                cur = max(cur, b)
            if fits or p.horizon - cur >= need:
                fits = True
                break
        if not fits:
            units = ", ".join(u for g in op.groups for u in p.groups[g].units)
            out.append(
                f"Unit procedure {op.procedure!r} takes {need * h:g} h with cleaning, longer "
                f"than any time between planned maintenance on {units}."
            )
            break
    for op in p.ops:
        if op.frozen is not None:
            continue
        for pr, _mn, mx in op.preds:
            fz = p.ops[pr].frozen
            if fz is None or mx is None:
                continue
            if op.release > fz.end + mx:
                out.append(
                    f"Batch {p.batches[op.batch].id}: {op.procedure!r} must start within "
                    f"{mx * h:g} h after {p.ops[pr].procedure!r}, which ended at "
                    f"{fz.end * h:g} h, but nothing can start before {op.release * h:g} h "
                    "(the hold time has already run out)."
                )
    if p.deadlines:
        for order in p.orders:
            if order.due is None:
                continue
            for b in order.batches:
                shortest = _shortest(p, p.batches[b].ops)
                if order.release + shortest > order.due:
                    out.append(
                        f"Order {order.id!r} is due {(order.due - order.release) * h:g} h "
                        f"after its release, but its recipe takes at least {shortest * h:g} h "
                        "(due dates are hard deadlines)."
                    )
                    break
    return out


def _shortest(p: Problem, ops: Sequence[int]) -> int:
    finish: dict[int, int] = {}
    for i in ops:
        op = p.ops[i]
        start = 0
        for pr, mn, _mx in op.preds:
            start = max(start, finish[pr] + mn)
        finish[i] = start + op.template.min_length
    return max(finish.values(), default=0)


def _family_members(p: Problem) -> dict[str, dict[Any, str]]:
    """Members of each constraint family present in the problem, with labels."""
    h = p.grain.hours
    out: dict[str, dict[Any, str]] = {name: {} for name in FAMILY_NAMES}
    if p.deadlines:
        for order in p.orders:
            if order.due is not None:
                out["deadlines"][order.id] = f"the deadline of order {order.id!r}"
    for op in p.ops:
        for pr, _mn, mx in op.preds:
            if mx is None:
                continue
            recipe = p.batches[op.batch].recipe
            key = (recipe, p.ops[pr].procedure, op.procedure)
            out["max_lags"][key] = (
                f"{op.procedure!r} within {mx * h:g} h after {p.ops[pr].procedure!r} "
                f"(recipe {recipe!r})"
            )
    for g in p.groups:
        if g.blocks:
            out["calendars"][g.idx] = f"the calendar of {', '.join(g.units)}"
    for lg in p.labour:
        out["crews"][lg.idx] = f"the headcount of {_skills(lg.skills)}"
        if any(c < lg.cmax for _, _, c in lg.profile):
            out["shifts"][lg.idx] = f"the shifts of {_skills(lg.skills)}"
    return {k: v for k, v in out.items() if v}


def explain_infeasibility(
    problem: Problem,
    *,
    time_limit_s: float = 30.0,
    workers: int = 2,
    known_infeasible: bool = False,
) -> str:
    """Name the constraint families (and members) that make the plan infeasible.

    Parameters
    ----------
    problem
        An infeasible scheduling problem.
    time_limit_s
        Budget for all the feasibility solves [s].
    workers
        CP-SAT workers per solve.
    known_infeasible
        Skip the first solve with every constraint (the caller has proven infeasibility).

    Returns
    -------
    str
        An explanation in words.
    """
    reasons = diagnose(problem)
    if reasons:
        return "The plan cannot be scheduled: " + " ".join(reasons)
    members = _family_members(problem)
    end = time.perf_counter() + time_limit_s

    def feasible(omit: Omit) -> bool | None:
        """Feasible with ``omit`` relaxed? The heuristic first, then CP-SAT."""
        left = end - time.perf_counter()
        if left <= 0.2:
            return None
        relaxed = relax(problem, omit)
        hint: list[Timing] | None = None
        try:
            hint = dispatch(relaxed, "edd")
        except HeuristicError:
            hint = None
        if hint is not None and meets_deadlines(relaxed, hint):
            return True
        built = build_model(relaxed)
        if hint is not None:
            built.hint(hint)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.2, min(left, max(2.0, time_limit_s / 6)))
        solver.parameters.num_workers = max(1, workers)
        st = solver.solve(built.model)
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return True
        if st == cp_model.INFEASIBLE:
            return False
        return None

    if not known_infeasible:
        base = feasible({})
        if base is True:
            return (
                "The plan is feasible with every constraint in force; the solver only ran out "
                "of time. Give it more time."
            )
        if base is None:
            return "The solver could not decide within the time limit whether the plan is feasible."
    culprits: list[str] = []
    unsure: list[str] = []
    for name, mem in members.items():
        ok = feasible({name: None})
        if ok is None:
            unsure.append(FAMILY_NAMES[name])
            continue
        if not ok:
            continue
        needed = _deletion_filter(name, list(mem), feasible)
        text = f"relaxing the {FAMILY_NAMES[name]} makes it feasible"
        if needed and len(needed) < len(mem):
            labels = [mem[k] for k in needed]
            shown = "; ".join(labels[:8]) + (
                f"; and {len(labels) - 8} more" if len(labels) > 8 else ""
            )
            text += f"; it is enough to relax {shown}"
        elif len(mem) == 1:
            text += f" ({next(iter(mem.values()))})"
        elif needed:
            labels = [mem[k] for k in needed]
            shown = "; ".join(labels[:8]) + (
                f"; and {len(labels) - 8} more" if len(labels) > 8 else ""
            )
            text += f"; all of these are involved: {shown}"
        culprits.append(text)
    if culprits:
        return "The plan is infeasible: " + ". Also, ".join(culprits) + "."
    for a, b in itertools.combinations(members, 2):
        if feasible({a: None, b: None}):
            return (
                "The plan is infeasible: no single family of constraints is to blame, but "
                f"relaxing both the {FAMILY_NAMES[a]} and the {FAMILY_NAMES[b]} makes it "
                "feasible."
            )
    tail = f" (undecided within the time limit: {', '.join(unsure)})" if unsure else ""
    return (
        "The plan is infeasible even with deadlines, hold times, calendars, shifts and crews "
        "relaxed in pairs: the release dates, precedences and unit capacity cannot all be met "
        f"within the scheduling horizon of {problem.h(problem.horizon) / 24:.0f} days{tail}."
    )


def relax(problem: Problem, omit: Omit) -> Problem:
    """A copy of ``problem`` without the given constraint families or members.

    Deadlines relaxed become due dates (tardiness only); relaxed hold times lose their
    maximum lag; relaxed calendars lose their maintenance and breakdown windows; relaxed
    shifts leave the largest crew on duty around the clock; relaxed crews give as many
    people as needed whenever anyone of the skills is on duty.
    """

    def out(family: str, key: Any) -> bool:
        if family not in omit:
            return False
        keys = omit[family]
        return keys is None or key in keys

    p = problem
    ops = []
    for op in p.ops:
        recipe = p.batches[op.batch].recipe
        preds = [
            (
                pr,
                mn,
                None
                if mx is not None and out("max_lags", (recipe, p.ops[pr].procedure, op.procedure))
                else mx,
            )
            for pr, mn, mx in op.preds
        ]
        ops.append(replace(op, preds=preds))
    groups = [
        replace(g, blocks=[] if out("calendars", g.idx) else list(g.blocks)) for g in p.groups
    ]
    labour = []
    for lg in p.labour:
        prof = list(lg.profile)
        cmax = lg.cmax
        if out("shifts", lg.idx):
            prof = [(0, p.horizon + 1, cmax)]
        if out("crews", lg.idx):
            prof = [(a, b, _MANY if c > 0 else 0) for a, b, c in prof]
            cmax = _MANY
        labour.append(replace(lg, profile=prof, cmax=cmax))
    orders = list(p.orders)
    deadlines = p.deadlines
    if "deadlines" in omit:
        keys = omit["deadlines"]
        if keys is None:
            deadlines = False
        else:
            orders = [replace(o, due=None) if o.id in keys else o for o in p.orders]
    return replace(
        p,
        ops=ops,
        groups=groups,
        labour=labour,
        orders=orders,
        deadlines=deadlines,
        _demand_cache={},
    )


def _deletion_filter(
    family: str, keys: list[Any], feasible: Callable[[Omit], bool | None]
) -> list[Any]:
    """A minimal set of members to relax (Chinneck's deletion filter, in blocks first)."""
    relaxed = list(keys)
    block = max(1, len(relaxed) // 4)
    while block >= 1:
        i = 0
        while i < len(relaxed):
            trial = relaxed[:i] + relaxed[i + block :]
            if not trial and block < len(relaxed):
                i += block
                continue
            ok = feasible({family: set(trial)}) if trial else feasible({})
            if ok:
                relaxed = trial
            else:
                i += block
        if block == 1:
            break
        block = max(1, block // 2)
    return relaxed
