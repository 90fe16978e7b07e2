"""Typed violations: what the schedule checker reports.

Every broken constraint is one :class:`Violation` with a stable ``kind`` (a keyword that
programs test), a ``message`` in words naming what and where, the order, batch, unit
procedure and unit concerned when there is one, the time [h from the plan start] and the
``rule`` of :mod:`phactory.schedule.checker` that found it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["VIOLATION_KINDS", "ScheduleViolationError", "Violation", "ViolationKind"]

ViolationKind = Literal[
    "status",
    "site",
    "epoch",
    "time",
    "missing-order",
    "missing-batch",
    "missing",
    "duplicate",
    "unknown",
    "unknown-unit",
    "wrong-class",
    "missing-phase",
    "unknown-phase",
    "phase-unit",
    "phase-order",
    "duration",
    "continuity",
    "crew",
    "overlap",
    "cleaning",
    "changeover",
    "maintenance",
    "downtime",
    "precedence",
    "max-lag",
    "release",
    "deadline",
    "labour",
]

#: Every kind, in the order of :data:`ViolationKind`.
VIOLATION_KINDS: tuple[ViolationKind, ...] = ViolationKind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint, with where and when [h from the epoch].

    ``missing`` is a unit procedure of a scheduled batch that has no row;
    ``missing-batch`` a batch of a scheduled order without any; ``missing-order`` an
    order of the schedule's scope without any.
    """

    kind: ViolationKind
    message: str
    batch: str | None = None
    procedure: str | None = None
    unit: str | None = None
    time_h: float | None = None
    order: str | None = None
    rule: str = ""

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


class ScheduleViolationError(AssertionError):
    """Raised by :func:`~phactory.schedule.checker.assert_valid`; ``violations`` holds the list."""

    def __init__(self, violations: list[Violation]) -> None:
        head = "\n".join(str(v) for v in violations[:20])
        more = f"\n... and {len(violations) - 20} more" if len(violations) > 20 else ""
        super().__init__(f"{len(violations)} schedule violation(s):\n{head}{more}")
        self.violations = violations
