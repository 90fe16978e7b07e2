"""What the schedule checker's rules read: the schedule as typed rows, the plan's work.

:class:`CheckContext` is built once per check from the site and the schedule and
computes, on first use, what several rules share: the operation rows (every row as
read, and the valid one per unit procedure), the phase segments of each unit procedure,
the unit procedures the plan expects from the orders in the schedule's scope, each
unit's operations in time order, breakdowns, and planned maintenance. Shift and holiday
placement and maintenance windows come from :mod:`phactory.model.timebase`, the one
placement the twin and the KPIs use; nothing here comes from the solver, so that a
modelling slip in the solver cannot hide itself.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from phactory.model import MasterRecipe, Order, Site
from phactory.model.procedural import Phase, UnitProcedure
from phactory.model.timebase import maintenance_windows
from phactory.schedule.schedule import Schedule

__all__ = ["CheckContext", "Expected", "OpRow", "SegRow", "phases_of"]

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class OpRow:
    """One row of the schedule's operations table [h from the epoch]."""

    order: str
    batch: str
    product: str
    procedure: str
    unit: str
    start_h: float
    end_h: float
    setup_h: float
    clean_end_h: float
    crew: str
    frozen: bool

    @property
    def key(self) -> Key:
        """``(batch, procedure)``."""
        return (self.batch, self.procedure)

    @property
    def finite(self) -> bool:
        """Whether every time of the row is a finite number."""
        return all(
            math.isfinite(x) for x in (self.start_h, self.end_h, self.setup_h, self.clean_end_h)
        )


@dataclass(frozen=True, slots=True)
class SegRow:
    """One phase segment: ``phase`` of a unit procedure on ``unit`` [h from the epoch]."""

    batch: str
    procedure: str
    phase: str
    unit: str
    start_h: float
    end_h: float
    crew: str


def phases_of(procedure: UnitProcedure) -> tuple[tuple[str, Phase], ...]:
    """``(name, phase)`` in recipe order, named as the scheduler names segments.

    A phase is ``operation/phase`` in a unit procedure of several operations, else its
    own id.
    """
    ops = procedure.operations
    return tuple(
        (f"{o.id}/{ph.id}" if len(ops) > 1 else ph.id, ph)
        for o in ops.values()
        for ph in o.phases.values()
    )


@dataclass(frozen=True, slots=True)
class Expected:
    """A unit procedure the plan asks for: of ``batch`` of ``order``, by ``recipe``."""

    order: Order
    batch: str
    recipe: MasterRecipe
    procedure: UnitProcedure
    phases: tuple[tuple[str, Phase], ...]


_OP_FIELDS = (
    "order",
    "batch",
    "product",
    "procedure",
    "unit",
    "start_h",
    "end_h",
    "setup_h",
    "clean_end_h",
    "crew",
    "frozen",
)
_SEG_FIELDS = ("batch", "procedure", "phase", "unit", "start_h", "end_h", "crew")
_DEFAULTS: dict[str, Any] = {"setup_h": 0.0, "crew": "", "frozen": False}


def _columns(df: Any, names: tuple[str, ...]) -> list[list[Any]]:
    """The columns of a table as lists (a missing optional one as its default)."""
    n = len(df)
    return [df[c].tolist() if c in df.columns else [_DEFAULTS.get(c, "")] * n for c in names]


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class CheckContext:
    """The facts the rules check, from ``site`` and ``schedule``.

    Parameters
    ----------
    site
        The site the schedule is for.
    schedule
        The schedule to check.
    orders
        Orders that must be fully scheduled; by default the schedule's scope
        (:attr:`Schedule.orders`), or the whole plan for a schedule without one.
    tol_h
        Times agree within this tolerance [h].
    """

    def __init__(
        self,
        site: Site,
        schedule: Schedule,
        *,
        orders: Iterable[str] | None = None,
        tol_h: float = 1e-6,
    ) -> None:
        self.site = site
        self.schedule = schedule
        self.tol = tol_h
        self._orders = None if orders is None else list(orders)

    # -- the plan ---------------------------------------------------------------------

    @cached_property
    def plan_orders(self) -> dict[str, Order]:
        """The site's orders by id."""
        return {o.id: o for o in self.site.orders}

    @cached_property
    def scope(self) -> list[str]:
        """Ids of the orders that must be fully scheduled, in a stable order."""
        if self._orders is not None:
            wanted = self._orders
        elif self.schedule.orders is not None:
            wanted = list(self.schedule.orders)
        else:
            wanted = list(self.plan_orders)
        return list(dict.fromkeys(str(o) for o in wanted))

    @cached_property
    def batches(self) -> dict[str, list[str]]:
        """Batch ids of each order of the scope that the plan knows."""
        out: dict[str, list[str]] = {}
        for oid in self.scope:
            o = self.plan_orders.get(oid)
            if o is not None:
                out[oid] = self.site.batch_ids(o)
        return out

    @cached_property
    def expected(self) -> dict[Key, Expected]:
        """Every unit procedure of every batch of the scope's orders."""
        out: dict[Key, Expected] = {}
        for oid, bids in self.batches.items():
            o = self.plan_orders[oid]
            rec = self.site.recipe_for(o)
            phases = {k: phases_of(up) for k, up in rec.unit_procedures.items()}
            for bid in bids:
                for up in rec.unit_procedures.values():
                    out[(bid, up.id)] = Expected(o, bid, rec, up, phases[up.id])
        return out

    # -- the schedule -------------------------------------------------------------------

    @cached_property
    def all_rows(self) -> list[OpRow]:
        """Every operation row as read."""
        cols = _columns(self.schedule.operations, _OP_FIELDS)
        return [
            OpRow(
                order=str(o),
                batch=str(b),
                product=str(pr),
                procedure=str(pc),
                unit=str(u),
                start_h=_float(a),
                end_h=_float(e),
                setup_h=_float(su if su is not None else 0.0),
                clean_end_h=_float(ce),
                crew=str(cr) if cr is not None else "",
                frozen=bool(fz),
            )
            for o, b, pr, pc, u, a, e, su, ce, cr, fz in zip(*cols, strict=True)
        ]

    @cached_property
    def rows(self) -> dict[Key, OpRow]:
        """The row of each expected unit procedure (the first, if several; finite times)."""
        out: dict[Key, OpRow] = {}
        for r in self.all_rows:
            if r.finite and r.key in self.expected and r.key not in out:
                out[r.key] = r
        return out

    @cached_property
    def segments(self) -> dict[Key, list[SegRow]]:
        """Phase segments of each unit procedure, by start then end."""
        out: dict[Key, list[SegRow]] = defaultdict(list)
        cols = _columns(self.schedule.segments, _SEG_FIELDS)
        for b, pc, ph, u, a, e, cr in zip(*cols, strict=True):
            seg = SegRow(
                batch=str(b),
                procedure=str(pc),
                phase=str(ph),
                unit=str(u),
                start_h=_float(a),
                end_h=_float(e),
                crew=str(cr) if cr is not None else "",
            )
            out[(seg.batch, seg.procedure)].append(seg)
        for lst in out.values():
            lst.sort(key=lambda g: (g.start_h, g.end_h))
        return dict(out)

    @cached_property
    def phase_segments(self) -> dict[Key, dict[str, list[SegRow]]]:
        """Segments of each unit procedure by phase name, each list by start."""
        out: dict[Key, dict[str, list[SegRow]]] = {}
        for key, segs in self.segments.items():
            by: dict[str, list[SegRow]] = defaultdict(list)
            for sg in segs:
                by[sg.phase].append(sg)
            out[key] = dict(by)
        return out

    @cached_property
    def by_unit(self) -> dict[str, list[OpRow]]:
        """The rows on each unit, by start then end."""
        out: dict[str, list[OpRow]] = defaultdict(list)
        for r in self.rows.values():
            out[r.unit].append(r)
        for lst in out.values():
            lst.sort(key=lambda r: (r.start_h, r.end_h))
        return dict(out)

    # -- calendars ---------------------------------------------------------------------

    @cached_property
    def horizon_h(self) -> float:
        """A time past every scheduled operation and its cleaning [h]."""
        ends = [max(r.end_h, r.clean_end_h) for r in self.rows.values()]
        return max(ends, default=0.0) + 24.0

    @cached_property
    def downtime(self) -> dict[str, list[tuple[float, float, str]]]:
        """Breakdowns the schedule was made around, per unit, ``(start_h, end_h, reason)``."""
        out: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
        for d in self.schedule.downtime:
            out[d.unit].append((d.start_h, d.end_h, d.reason or "breakdown"))
        return {u: sorted(v) for u, v in out.items()}

    @cached_property
    def maintenance(self) -> dict[str, list[tuple[float, float, str]]]:
        """Planned maintenance per unit over the schedule, ``(start_h, end_h, reason)``."""
        return {
            u: [(a, b, why or "planned maintenance") for a, b, why in spans]
            for u, spans in maintenance_windows(self.site, self.horizon_h).items()
        }

    # -- words --------------------------------------------------------------------------

    def when(self, h: float) -> str:
        """A time as local date and hour with its plan hour, for messages."""
        if not math.isfinite(h):
            return f"h {h}"
        return f"{self.site.from_hours(h).astimezone(self.site.zone):%Y-%m-%d %H:%M} (h {h:.2f})"

    def hours(self, moment: Any) -> float:
        """A date or datetime of the site as hours from the plan start."""
        return self.site.to_hours(moment)
