"""An independent schedule checker: every constraint, recomputed from the site.

The checker shares no code with the problem builder, the CP-SAT model or the heuristic:
it reads the site (recipes, equipment, teams, shift patterns, calendar, changeover
rules) and a :class:`~phactory.schedule.schedule.Schedule`, and recomputes what it
needs in its own way: phase durations from the recipes, who is on shift from
:mod:`phactory.model.timebase` (the placement the twin and the KPIs use), maintenance
windows, the feasibility of crews by a maximum flow. It imports only the model and the
schedule. Tolerances: times agree within ``tol_h`` (1e-6 h by default).

The constraints are a list of small rules (:data:`RULES`, see
:mod:`phactory.schedule.rules`), each a :class:`CheckRule`: it has a name, states its
constraint in its docstring and returns typed
:class:`~phactory.schedule.violations.Violation` records with messages in words. Each
can be run and tested alone on a :class:`~phactory.schedule.check_context.CheckContext`;
a new constraint of the scheduler gets its rule here, in the manner of the twin's
dispatch protocols (:mod:`phactory.twin.dispatch`).

A schedule is valid when no rule reports anything. It must hold every unit procedure
of every batch of the orders in its scope (:attr:`Schedule.orders`, else the whole
plan): an empty schedule, such as the one written for an infeasible plan, is never
valid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from phactory.model import Site
from phactory.schedule.check_context import CheckContext
from phactory.schedule.rules import (
    Breakdowns,
    Changeovers,
    Cleaning,
    Completeness,
    ContinuousPhases,
    CrewCapacity,
    Deadlines,
    Equipment,
    HoldTimes,
    MaintenanceWindows,
    PhaseCrews,
    PhaseDurations,
    PhaseSequence,
    Precedence,
    ReleaseDates,
    SiteIdentity,
    SolveStatus,
    UnitDoubleBooking,
)
from phactory.schedule.schedule import Schedule
from phactory.schedule.violations import ScheduleViolationError, Violation, ViolationKind

__all__ = [
    "RULES",
    "CheckContext",
    "CheckRule",
    "ScheduleViolationError",
    "Violation",
    "ViolationKind",
    "assert_valid",
    "check_schedule",
    "run_rule",
]


@runtime_checkable
class CheckRule(Protocol):
    """One constraint of a schedule, checked on its own.

    ``name`` is a stable keyword (it tags the violations), ``kinds`` the violation kinds
    the rule may report; the class docstring states the constraint in words.
    """

    name: str
    kinds: tuple[ViolationKind, ...]

    def check(self, ctx: CheckContext) -> list[Violation]:
        """Every violation of this rule (empty if the schedule keeps it)."""
        ...


#: The checker's rules, in the order they run (and their violations are listed).
RULES: tuple[CheckRule, ...] = (
    SolveStatus(),
    SiteIdentity(),
    Completeness(),
    Equipment(),
    PhaseSequence(),
    PhaseDurations(),
    ContinuousPhases(),
    PhaseCrews(),
    UnitDoubleBooking(),
    Cleaning(),
    Changeovers(),
    MaintenanceWindows(),
    Breakdowns(),
    Precedence(),
    HoldTimes(),
    ReleaseDates(),
    Deadlines(),
    CrewCapacity(),
)


def run_rule(rule: CheckRule, ctx: CheckContext) -> list[Violation]:
    """The violations of one rule, each tagged with the rule's name."""
    return [
        v if v.rule == rule.name else dataclasses.replace(v, rule=rule.name)
        for v in rule.check(ctx)
    ]


def check_schedule(
    site: Site,
    schedule: Schedule,
    *,
    orders: Iterable[str] | None = None,
    tol_h: float = 1e-6,
    rules: Sequence[CheckRule] = RULES,
) -> list[Violation]:
    """Every violation of the site's constraints by ``schedule``.

    Parameters
    ----------
    site
        The site the schedule is for.
    schedule
        The schedule to check.
    orders
        Orders that must be fully scheduled; by default the schedule's scope, or the
        whole plan for a schedule that records none.
    tol_h
        Time tolerance [h].
    rules
        The rules to apply (default: all of :data:`RULES`).

    Returns
    -------
    list of Violation
        Empty if the schedule is valid; grouped by rule in the order of ``rules``.
    """
    ctx = CheckContext(site, schedule, orders=orders, tol_h=tol_h)
    return [v for rule in rules for v in run_rule(rule, ctx)]


def assert_valid(site: Site, schedule: Schedule, **kw: Any) -> None:
    """Raise :class:`ScheduleViolationError` unless the schedule is valid."""
    found = check_schedule(site, schedule, **kw)
    if found:
        raise ScheduleViolationError(found)
