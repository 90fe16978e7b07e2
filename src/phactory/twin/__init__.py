"""The plant twin: discrete-event simulation of a site executing its production plan.

``simulate(site)`` returns the :class:`~phactory.events.EventLog` of one run (SimPy
inside, hours from the plan start as the time base); ``replicate(site, n)`` runs
independent replications on local processes or a Dask cluster. Dispatching rules and
unit-choice policies are small strategy objects; a schedule can be executed as the plan
of record.
"""

from phactory.twin.dispatch import (
    DISPATCH_RULES,
    Assignment,
    DispatchRule,
    EarliestAvailable,
    Edd,
    Fifo,
    PlanOfRecord,
    Priority,
    SameProductFirst,
    UnitPolicy,
)
from phactory.twin.engine import Twin, simulate
from phactory.twin.errors import TwinError
from phactory.twin.replicate import replicate, replication_seeds
from phactory.twin.report import adherence

__all__ = [
    "DISPATCH_RULES",
    "Assignment",
    "DispatchRule",
    "EarliestAvailable",
    "Edd",
    "Fifo",
    "PlanOfRecord",
    "Priority",
    "SameProductFirst",
    "Twin",
    "TwinError",
    "UnitPolicy",
    "adherence",
    "replicate",
    "replication_seeds",
    "simulate",
]
