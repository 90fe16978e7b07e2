"""Typed job-shop (JSP) and flexible job-shop (FJSP) instances and their schedules.

Conventions used throughout :mod:`phactory.schedule.benchmarks`:

* jobs, operations and machines are numbered from 0 (files using 1-based machines are
  converted by their reader);
* times are integers in the instance's own time unit (benchmarks carry no unit);
* a JSP instance is an FJSP instance whose every operation has exactly one alternative,
  so the solver, the heuristics and the checker handle both with one code path.

References
----------
.. [1] H. Fisher, G. L. Thompson (1963). Probabilistic learning combinations of local
   job-shop scheduling rules. In J. F. Muth, G. L. Thompson (eds.), *Industrial
   Scheduling*, Prentice Hall, 225-251.
.. [2] P. Brandimarte (1993). Routing and scheduling in a flexible job shop by tabu search.
   *Annals of Operations Research* 41, 157-183.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from phactory.errors import InvalidError

__all__ = [
    "Alternative",
    "Assignment",
    "InstanceFormatError",
    "Operation",
    "Schedule",
    "ShopInstance",
]

ShopKind = Literal["jsp", "fjsp"]


class InstanceFormatError(InvalidError):
    """A benchmark file is malformed; the message starts with ``FILE:LINE:``.

    Parameters
    ----------
    file
        The file name (or ``<string>`` for text parsed from memory).
    line
        1-based line number of the offending token, or 0 when the problem concerns the
        whole file (for example, a missing job at end of file).
    message
        What is wrong, in the reader's terms.
    """

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        super().__init__(f"{file}:{line}: {message}")


@dataclass(frozen=True, slots=True)
class Alternative:
    """One way to process an operation: on ``machine`` for ``duration`` time units."""

    machine: int
    duration: int


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation of a job with its eligible machines (one for a classic JSP)."""

    alternatives: tuple[Alternative, ...]

    @property
    def min_duration(self) -> int:
        """Shortest processing time over the eligible machines."""
        return min(a.duration for a in self.alternatives)

    @property
    def max_duration(self) -> int:
        """Longest processing time over the eligible machines."""
        return max(a.duration for a in self.alternatives)

    def duration_on(self, machine: int) -> int | None:
        """Processing time on ``machine``, or ``None`` if the machine is not eligible."""
        for alt in self.alternatives:
            if alt.machine == machine:
                return alt.duration
        return None


@dataclass(frozen=True, slots=True)
class ShopInstance:
    """A (flexible) job-shop instance: jobs are chains of operations.

    Attributes
    ----------
    name
        Instance name, e.g. ``"ft10"`` (the file stem for user files).
    kind
        ``"jsp"`` when every operation has exactly one eligible machine, else ``"fjsp"``.
    n_machines
        Number of machines; machines are ``0 .. n_machines - 1``.
    jobs
        ``jobs[j][o]`` is operation ``o`` of job ``j``; operations of a job run in order.
    source
        Where the instance was read from (path or description), for messages.
    meta
        Extra integers carried by some formats (e.g. Taillard's seeds). Never used by the
        solver: solutions and bounds come from search only.
    """

    name: str
    kind: ShopKind
    n_machines: int
    jobs: tuple[tuple[Operation, ...], ...]
    source: str = ""
    meta: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_jobs(self) -> int:
        """Number of jobs."""
        return len(self.jobs)

    @property
    def n_operations(self) -> int:
        """Total number of operations."""
        return sum(len(job) for job in self.jobs)

    def operations(self) -> Iterator[tuple[int, int, Operation]]:
        """Yield ``(job, index, operation)`` in job order."""
        for j, job in enumerate(self.jobs):
            for o, op in enumerate(job):
                yield j, o, op

    def trivial_lower_bound(self) -> int:
        """Max of the longest job (shortest durations) and, for a JSP, the busiest machine.

        Only used to report a bound when a solver returns none; CP-SAT derives stronger ones.
        """
        job_lb = max((sum(op.min_duration for op in job) for job in self.jobs), default=0)
        if self.kind != "jsp":
            total = sum(op.min_duration for _, _, op in self.operations())
            return max(job_lb, -(-total // max(self.n_machines, 1)))
        load = [0] * self.n_machines
        for _, _, op in self.operations():
            load[op.alternatives[0].machine] += op.alternatives[0].duration
        return max(job_lb, max(load, default=0))

    def horizon(self) -> int:
        """Sum of the longest durations: no semi-active schedule ends later."""
        return sum(op.max_duration for _, _, op in self.operations())


@dataclass(frozen=True, slots=True)
class Assignment:
    """Operation ``op`` of ``job`` runs on ``machine`` during ``[start, end)``."""

    job: int
    op: int
    machine: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Schedule:
    """A complete schedule: one :class:`Assignment` per operation."""

    assignments: tuple[Assignment, ...]

    @property
    def makespan(self) -> int:
        """Completion time of the last operation (0 for an empty schedule)."""
        return max((a.end for a in self.assignments), default=0)
