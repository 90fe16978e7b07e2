"""Scheduling objectives: makespan, total weighted tardiness, number of changeovers.

An objective is named by a string: ``makespan``, ``tardiness``, ``changeovers``, or a
lexicographic combination ``lex:tardiness,makespan`` (optimise the first; then, with its
value fixed as a constraint, the next; and so on) [1]_.

Definitions (all on the model's time grain, reported in hours):

makespan
    Latest end of any unit procedure (cleaning after it excluded) [h].
tardiness
    sum over orders of w_o * max(0, C_o - d_o), with C_o the end of the order's last batch,
    d_o its due date and w_o = max(1, priority) [h]; orders without a due date count 0.
changeovers
    Number of product changes in the unit sequences that are modelled exactly (single
    units with few candidate operations, see :mod:`.problem`); changes on units where
    changeovers are padded are reported but not optimised.

References
----------
.. [1] M. Ehrgott (2005). *Multicriteria Optimization*, 2nd ed., Springer, §5.1
   (lexicographic optimality).
.. [2] M. L. Pinedo (2016). *Scheduling: Theory, Algorithms, and Systems*, 5th ed.,
   Springer, §1.3 (makespan, weighted tardiness).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from phactory.schedule.problem import Problem, Timing

__all__ = [
    "OBJECTIVES",
    "ObjectiveName",
    "evaluate",
    "meets_deadlines",
    "parse_objective",
    "to_report_units",
]

ObjectiveName = Literal["makespan", "tardiness", "changeovers"]

#: The single objectives, in the order the CLI lists them.
OBJECTIVES: tuple[ObjectiveName, ...] = ("makespan", "tardiness", "changeovers")


def parse_objective(spec: str | Sequence[str]) -> list[ObjectiveName]:
    """The objectives of a specification, in lexicographic order.

    ``"makespan"`` -> ``["makespan"]``; ``"lex:tardiness,makespan"`` ->
    ``["tardiness", "makespan"]``; a list is taken as it is. Raises ``ValueError`` with
    the allowed names for anything else.
    """
    if isinstance(spec, str):
        text = spec.strip()
        names = [p.strip() for p in text[4:].split(",")] if text.startswith("lex:") else [text]
    else:
        names = [str(s).strip() for s in spec]
    out: list[ObjectiveName] = []
    for n in names:
        if n not in OBJECTIVES:
            raise ValueError(
                f"unknown objective {n!r}: use one of {', '.join(OBJECTIVES)} or "
                "'lex:a,b' (e.g. lex:tardiness,makespan)"
            )
        if n in out:
            raise ValueError(f"objective {n!r} is given twice")
        out.append(n)  # type: ignore[arg-type]
    if not out:
        raise ValueError("no objective given")
    return out


def _sequences(problem: Problem, timings: Sequence[Timing]) -> dict[int, list[int]]:
    seq: dict[int, list[int]] = {}
    for op in problem.ops:
        g = timings[op.idx].group
        if problem.groups[g].changeover == "circuit" and op.frozen is None:
            seq.setdefault(g, []).append(op.idx)
    for ops in seq.values():
        ops.sort(key=lambda i: timings[i].start)
    return seq


def evaluate(problem: Problem, timings: Sequence[Timing], name: ObjectiveName) -> int:
    """Value of one objective for a complete set of timings [grains, or a count]."""
    if name == "makespan":
        return max((t.end for t in timings), default=0)
    if name == "tardiness":
        total = 0
        for order in problem.orders:
            if order.due is None:
                continue
            end = max(
                timings[i].end
                for b in order.batches
                for i in problem.batches[b].ops
                if problem.ops[i].final
            )
            total += order.weight * max(0, end - order.due)
        return total
    count = 0
    for g, ops in _sequences(problem, timings).items():
        last = problem.groups[g].initial[0]
        for i in ops:
            p = problem.ops[i].product
            if last is not None and last != p:
                count += 1
            last = p
    return count


def to_report_units(problem: Problem, name: ObjectiveName, value: float) -> float:
    """An objective value in report units: hours for times, a count for changeovers."""
    return float(value) if name == "changeovers" else problem.h(1) * value


def meets_deadlines(problem: Problem, timings: Sequence[Timing]) -> bool:
    """Whether every operation ends by its order's due date, when those are deadlines."""
    if not problem.deadlines:
        return True
    return all(
        timings[i].end <= o.due
        for o in problem.orders
        if o.due is not None
        for b in o.batches
        for i in problem.batches[b].ops
    )
