"""Independent feasibility checker for job-shop and flexible job-shop schedules.

Deliberately shares no code with the solver or the heuristics: it re-derives every rule
from the instance data so that a modelling slip in CP-SAT cannot hide itself.

Rules checked
-------------
* every operation of every job is scheduled exactly once, and nothing else is;
* the machine is eligible for the operation and ``end - start`` equals the processing time
  given for that machine; starts are non-negative;
* operations of a job run in order: each starts no earlier than its predecessor ends;
* a machine processes at most one operation at a time (touching intervals are allowed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from phactory.schedule.benchmarks.instances import Assignment, Schedule, ShopInstance

__all__ = ["ScheduleViolationError", "Violation", "assert_feasible", "check_schedule"]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule; ``rule`` is a stable keyword, ``message`` says where and how."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class ScheduleViolationError(AssertionError):
    """Raised by :func:`assert_feasible`; ``violations`` lists every broken rule."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        head = "; ".join(str(v) for v in violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(f"{len(violations)} violation(s): {head}{more}")


def check_schedule(instance: ShopInstance, schedule: Schedule) -> list[Violation]:
    """Return every violation of the job-shop rules (empty list: the schedule is feasible)."""
    out: list[Violation] = []
    seen: dict[tuple[int, int], Assignment] = {}
    for a in schedule.assignments:
        key = (a.job, a.op)
        if not (0 <= a.job < instance.n_jobs and 0 <= a.op < len(instance.jobs[a.job])):
            out.append(
                Violation("unknown-operation", f"job {a.job} op {a.op} is not in the instance")
            )
            continue
        if key in seen:
            out.append(Violation("duplicate", f"job {a.job} op {a.op} is scheduled twice"))
            continue
        seen[key] = a
        op = instance.jobs[a.job][a.op]
        duration = op.duration_on(a.machine)
        if duration is None:
            eligible = sorted(alt.machine for alt in op.alternatives)
            out.append(
                Violation(
                    "eligibility",
                    f"job {a.job} op {a.op} on machine {a.machine}, eligible {eligible}",
                )
            )
        elif a.end - a.start != duration:
            out.append(
                Violation(
                    "duration",
                    f"job {a.job} op {a.op} lasts {a.end - a.start} on machine {a.machine}, "
                    f"expected {duration}",
                )
            )
        if a.start < 0:
            out.append(Violation("negative-start", f"job {a.job} op {a.op} starts at {a.start}"))

    for j, job in enumerate(instance.jobs):
        for o in range(len(job)):
            if (j, o) not in seen:
                out.append(Violation("missing", f"job {j} op {o} is not scheduled"))
        for o in range(1, len(job)):
            prev, cur = seen.get((j, o - 1)), seen.get((j, o))
            if prev is not None and cur is not None and cur.start < prev.end:
                out.append(
                    Violation(
                        "precedence",
                        f"job {j} op {o} starts at {cur.start} before op {o - 1} ends at "
                        f"{prev.end}",
                    )
                )

    by_machine: dict[int, list[Assignment]] = defaultdict(list)
    for a in seen.values():
        by_machine[a.machine].append(a)
    for machine, items in sorted(by_machine.items()):
        items.sort(key=lambda a: (a.start, a.end))
        # Compare with the latest-ending earlier item, not just the previous one, so that a
        # long operation overlapping several later ones is reported against each of them.
        before = items[0]
        for after in items[1:]:
            if after.start < before.end:
                out.append(
                    Violation(
                        "overlap",
                        f"machine {machine}: job {before.job} op {before.op} "
                        f"[{before.start}, {before.end}) overlaps job {after.job} op {after.op} "
                        f"[{after.start}, {after.end})",
                    )
                )
            if after.end > before.end:
                before = after
    return out


def assert_feasible(instance: ShopInstance, schedule: Schedule) -> None:
    """Raise :class:`ScheduleViolationError` if :func:`check_schedule` finds anything."""
    violations = check_schedule(instance, schedule)
    if violations:
        raise ScheduleViolationError(violations)
