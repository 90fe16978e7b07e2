"""The plant twin: discrete-event simulation of a site executing its production plan.

``simulate(site)`` returns the :class:`~phactory.events.EventLog` of one run (SimPy
inside, hours from the plan start as the time base); ``replicate(site, n)`` runs
independent replications on local processes or a Dask cluster. Dispatching rules and
unit-choice policies are small strategy objects; a schedule can be executed as the plan
of record.

The event loop's modules run compiled with Cython where the install could build them,
and as plain Python otherwise, with the same results (:mod:`phactory.twin._compiled`).
"""

from pathlib import Path

from phactory.twin import _compiled

# Before any module of the loop is imported: which build to use is decided once.
BUILD = _compiled.select(Path(__file__).resolve().parent)
# The engine first: compiled, the loop's modules import one another's types as they
# initialise, and only this order finds every module it needs complete.
_compiled.import_loop()

from phactory.twin.dispatch import (  # noqa: E402 - after the build is selected
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
from phactory.twin.engine import Twin, simulate  # noqa: E402
from phactory.twin.errors import TwinError  # noqa: E402
from phactory.twin.replicate import replicate, replication_seeds  # noqa: E402
from phactory.twin.report import adherence  # noqa: E402

__all__ = [
    "BUILD",
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
