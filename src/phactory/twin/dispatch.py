# cython: annotation_typing=False
# (Compiled, annotations stay hints here: this public API accepts any real number.)
"""Dispatching: which waiting unit procedure gets a unit, and which unit it gets.

Two small strategy interfaces, in the spirit of SimPy's named extension points:

:class:`DispatchRule`
    Orders the unit procedures waiting for a unit class (and the phases waiting for
    people) by a sort key: :class:`Fifo` (first come, first served), :class:`Edd`
    (earliest due date of the order) and :class:`Priority` (highest order priority
    first), each breaking ties first come, first served [1]_.
:class:`UnitPolicy`
    Chooses among the free units of the class: :class:`EarliestAvailable` (the unit free
    the longest, preferring units whose next planned maintenance leaves room for the
    procedure) by default, or :class:`SameProductFirst` (avoid changeovers).

:class:`PlanOfRecord` is both: it executes a given schedule, a list of
:class:`Assignment` ``(batch, procedure, unit, planned_start)``. Each scheduled unit
procedure runs on its planned unit and starts its first phase no earlier than planned;
units serve their waiting procedures in planned-start order. Start delays (actual minus
planned) are reported as the ``value`` of ``procedure_started`` events; see
:func:`phactory.twin.adherence`.

References
----------
.. [1] M. L. Pinedo, *Scheduling: Theory, Algorithms, and Systems*, 5th ed., Springer,
   2016, §14.2 (dispatching rules).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import simpy

from phactory.twin.recorder import NO_CTX

if TYPE_CHECKING:
    from phactory.twin.batch import ProcState
    from phactory.twin.equipment import UnitState

__all__ = [
    "DISPATCH_RULES",
    "Assignment",
    "ClassPool",
    "DispatchRule",
    "EarliestAvailable",
    "Edd",
    "Fifo",
    "PlanOfRecord",
    "Priority",
    "SameProductFirst",
    "UnitPolicy",
]


@runtime_checkable
class DispatchRule(Protocol):
    """Orders waiting unit procedures; the smallest key is served first."""

    name: str

    def key(self, request: ProcState) -> tuple[float, ...]:
        """Sort key of ``request`` (see :class:`~phactory.twin.batch.ProcState`)."""
        ...


@runtime_checkable
class UnitPolicy(Protocol):
    """Chooses a unit for a request among free units, or none (then it waits).

    A waiting request is offered each unit of its class as that unit becomes free
    (``free`` then holds that one unit), in the order of the dispatching rule.
    """

    def choose(self, request: ProcState, free: Sequence[UnitState], now: float) -> UnitState | None:
        """The unit to give ``request``, or None to leave it waiting."""
        ...


class Fifo:
    """First come, first served: by the time the unit was requested."""

    name = "fifo"

    def key(self, request: ProcState) -> tuple[float, ...]:
        """``(request time,)``."""
        return (request.t_request,)


class Edd:
    """Earliest due date of the order first; orders without a due date last."""

    name = "edd"

    def key(self, request: ProcState) -> tuple[float, ...]:
        """``(due, request time)``."""
        return (request.batch.due_h, request.t_request)


class Priority:
    """Highest order priority first."""

    name = "priority"

    def key(self, request: ProcState) -> tuple[float, ...]:
        """``(-priority, request time)``."""
        return (-float(request.batch.priority), request.t_request)


#: Dispatching rules by the names :func:`phactory.twin.simulate` accepts.
DISPATCH_RULES: dict[str, DispatchRule] = {"fifo": Fifo(), "edd": Edd(), "priority": Priority()}


class EarliestAvailable:
    """The free unit that has been free the longest, avoiding maintenance clashes.

    A unit whose next planned maintenance would start before the procedure's expected
    end (preparation plus mean processing time) is taken only if no other unit is free;
    maintenance then waits for the procedure to finish. The pool keeps its free units
    in the order they became free, so the first acceptable one is the answer.
    """

    def choose(self, request: ProcState, free: Sequence[UnitState], now: float) -> UnitState | None:
        """The chosen unit (never None when a unit is free)."""
        first = free[0]
        if len(free) == 1:
            return first
        spec = request.spec
        until = now + spec.lead_h + spec.mean_h
        for u in free:
            if u.next_maintenance(now) >= until:
                return u
        return first


class SameProductFirst(EarliestAvailable):
    """Prefer a free unit that last made the same product (no changeover due).

    Falls back to :class:`EarliestAvailable` among the others. A campaign-friendly
    policy for classes with long changeovers.
    """

    def choose(self, request: ProcState, free: Sequence[UnitState], now: float) -> UnitState | None:
        """The chosen unit (never None when a unit is free)."""
        if len(free) > 1:
            product = request.batch.product
            same = [u for u in free if u.last_product == product]
            if same:
                return super().choose(request, same, now)
        return super().choose(request, free, now)


@dataclass(frozen=True)
class Assignment:
    """One line of a schedule: run ``procedure`` of ``batch`` on ``unit`` from ``planned_start``.

    ``planned_start`` is the planned start of the procedure's first phase [h from the
    epoch]; the unit is claimed early enough to clean and change it over first.
    """

    batch: str
    procedure: str
    unit: str
    planned_start: float


class PlanOfRecord:
    """Execute a schedule: planned units, planned-start order, never early.

    Unit procedures without an assignment fall back to :class:`EarliestAvailable` and
    are ordered after the scheduled ones.
    """

    name = "schedule"

    def __init__(self, assignments: Iterable[Assignment]) -> None:
        self.plan: dict[tuple[str, str], Assignment] = {}
        for a in assignments:
            self.plan[(a.batch, a.procedure)] = a
        self._fallback = EarliestAvailable()

    def key(self, request: ProcState) -> tuple[float, ...]:
        """``(planned start, request time)``; unscheduled procedures sort last."""
        planned = request.planned
        return (planned.planned_start if planned else math.inf, request.t_request)

    def choose(self, request: ProcState, free: Sequence[UnitState], now: float) -> UnitState | None:
        """The planned unit if it is free; otherwise wait for it."""
        planned = request.planned
        if planned is None:
            return self._fallback.choose(request, free, now)
        for u in free:
            if u.id == planned.unit:
                return u
        return None


class ClassPool:
    """The units of one equipment class and the unit procedures waiting for them."""

    def __init__(
        self,
        env: simpy.Environment,
        equipment_class: str,
        units: list[UnitState],
        rule: DispatchRule,
        policy: UnitPolicy,
    ) -> None:
        self.env = env
        self.equipment_class = equipment_class
        self.units = units
        self.rule = rule
        self.policy = policy
        self.free: list[UnitState] = list(units)
        self.waiting: list[tuple[tuple[float, ...], int, ProcState]] = []
        self._seq = 0
        for u in units:
            u.pool = self

    def request(self, ps: ProcState) -> UnitState | None:
        """Give ``ps`` a free unit now, or queue it (``ps.unit_wait`` fires on a grant)."""
        t = self.env._now
        ps.t_request = t
        ps.key = self.rule.key(ps)
        if self.free:
            unit = self.policy.choose(ps, self.free, t)
            if unit is not None:
                self.free.remove(unit)
                self._grant(ps, unit, t)
                return unit
        ps.unit_wait = simpy.Event(self.env)
        self._seq += 1
        bisect.insort(self.waiting, (ps.key, self._seq, ps))
        return None

    def cancel(self, ps: ProcState) -> None:
        """Withdraw a waiting request (its batch was scrapped)."""
        for i, entry in enumerate(self.waiting):
            if entry[2] is ps:
                del self.waiting[i]
                return

    def take(self, unit: UnitState) -> None:
        """Remove a free unit from service (planned maintenance)."""
        self.free.remove(unit)
        unit.is_free = False

    def unit_freed(self, unit: UnitState) -> None:
        """A unit is back: the first waiting procedure that accepts it gets it."""
        t = self.env._now
        unit.free_since = t
        one = (unit,)
        choose = self.policy.choose
        for i, entry in enumerate(self.waiting):
            ps = entry[2]
            if choose(ps, one, t) is unit:
                del self.waiting[i]
                self._grant(ps, unit, t)
                assert ps.unit_wait is not None
                ps.unit_wait.succeed(unit)
                return
        unit.is_free = True
        unit.set("idle", t, NO_CTX)
        self.free.append(unit)

    def _grant(self, ps: ProcState, unit: UnitState, t: float) -> None:
        unit.is_free = False
        unit.holder = ps
        ps.unit = unit
        unit.set("waiting_upstream", t, ps.ctx)


def describe(rule: DispatchRule | Any) -> str:
    """Name of a rule for messages."""
    return str(getattr(rule, "name", type(rule).__name__))
