"""The rules of the independent schedule checker, one small class each.

Every rule has a ``name`` (a stable keyword), the ``kinds`` of violation it reports, a
docstring stating the constraint, and ``check(ctx)`` returning the
:class:`~phactory.schedule.violations.Violation` list for a
:class:`~phactory.schedule.check_context.CheckContext`.
:data:`phactory.schedule.checker.RULES` lists them in the order the checker runs them.

============================  =========================================================
rule                          constraint
============================  =========================================================
``solve-status``              the file holds a solution (not an infeasible plan's)
``site-identity``             the schedule's site and plan start
``completeness``              every order, batch and unit procedure once, nothing else
``equipment``                 an existing unit of the right equipment class
``phase-sequence``            every phase, in recipe order, on the procedure's unit
``phase-durations``           phases worked for their planned durations
``continuous-phases``         no pause in a continuous phase
``phase-crews``               the people each phase's recipe asks for
``unit-double-booking``       one unit procedure at a time on a unit
``cleaning``                  cleaning after each unit procedure
``changeovers``               product changeovers after cleaning
``maintenance``               nothing in planned maintenance
``breakdowns``                nothing on a broken-down unit
``precedence``                links with their minimum lags
``hold-times``                links with their maximum lags
``release-dates``             nothing before the order's release
``deadlines``                 nothing after a hard due date
``crew-capacity``             people held are coverable by the teams on shift
============================  =========================================================
"""

from phactory.schedule.rules.labour import CrewCapacity
from phactory.schedule.rules.links import Deadlines, HoldTimes, Precedence, ReleaseDates
from phactory.schedule.rules.phases import (
    ContinuousPhases,
    PhaseCrews,
    PhaseDurations,
    PhaseSequence,
)
from phactory.schedule.rules.plan import Completeness, Equipment, SiteIdentity, SolveStatus
from phactory.schedule.rules.units import (
    Breakdowns,
    Changeovers,
    Cleaning,
    MaintenanceWindows,
    UnitDoubleBooking,
)

__all__ = [
    "Breakdowns",
    "Changeovers",
    "Cleaning",
    "Completeness",
    "ContinuousPhases",
    "CrewCapacity",
    "Deadlines",
    "Equipment",
    "HoldTimes",
    "MaintenanceWindows",
    "PhaseCrews",
    "PhaseDurations",
    "PhaseSequence",
    "Precedence",
    "ReleaseDates",
    "SiteIdentity",
    "SolveStatus",
    "UnitDoubleBooking",
]
