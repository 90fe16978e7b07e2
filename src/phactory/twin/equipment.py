"""Units: their state on the ISO 22400-2 time model, cleaning, changeover, maintenance.

A :class:`UnitState` is in exactly one of the states of :mod:`phactory.events.states` at
every moment; each change closes a timeline row, so that a unit's rows tile the horizon
by construction. The unit's life between batches is driven by callbacks on SimPy
timeouts rather than processes of their own:

- after a unit procedure the unit is cleaned (``cleaning``) for its class's cleaning
  time when ``after_each_batch``; otherwise it stays dirty (campaign) and is cleaned
  before the next batch of another product, or before any batch once its dirty hold has
  run out, which is recorded as a deviation when that batch claims the unit (EU GMP
  Annex 15 §10: dirty- and clean-hold times are validated limits);
- before a batch, a unit clean for longer than its clean hold is cleaned again, and a
  product change costs the changeover time of the most specific rule (``setup``);
- planned maintenance (``planned_down``) starts at its window if the unit is free; if a
  unit procedure holds the unit then, maintenance waits until the procedure and its
  cleaning are over and then takes its full duration (the batch is never interrupted,
  the window is deferred; the delay is in the ``maintenance_started`` event's detail).
  Dispatching prefers units whose next window leaves room for the procedure.

Failures are handled where the time is spent, in the phase loop of
:mod:`phactory.twin.batch`: the unit's :class:`~phactory.twin.streams.FailureClock`
counts operating hours only, so a unit that stands idle does not wear.

References
----------
.. [1] ISO 22400-2:2014, time model of a work unit.
.. [2] EudraLex Vol. 4, Annex 15: Qualification and Validation (2015), §10 cleaning
   validation: dirty and clean hold times.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import simpy

from phactory.model import EquipmentClass, Site
from phactory.model.procedural import changeover_hours
from phactory.model.timebase import maintenance_windows as placed_maintenance
from phactory.twin.recorder import NO_CTX, Ctx, Recorder
from phactory.twin.streams import FailureClock

if TYPE_CHECKING:
    from phactory.twin.batch import ProcState
    from phactory.twin.dispatch import ClassPool

__all__ = ["MaintenanceCalendar", "UnitState", "maintenance_windows"]

INF: Final[float] = math.inf
EPS: Final[float] = 1e-9

Window = tuple[float, float, str]


def maintenance_windows(site: Site, horizon_h: float) -> dict[str, list[Window]]:
    """Planned maintenance per unit as merged ``(start_h, end_h, reason)`` in the run.

    See :func:`phactory.model.timebase.maintenance_windows`.
    """
    return placed_maintenance(site, horizon_h)


class UnitState:
    """One unit during a run: its current state and what it needs before the next batch."""

    __slots__ = (
        "after_each_batch",
        "changeovers",
        "clean_h",
        "clean_hold",
        "clean_since",
        "clock",
        "ctx",
        "dirty",
        "dirty_hold",
        "dirty_since",
        "env",
        "equipment_class",
        "free_since",
        "holder",
        "id",
        "index",
        "is_free",
        "last_product",
        "maint",
        "maint_i",
        "pending",
        "pool",
        "rec",
        "rows",
        "rules",
        "state",
        "t0",
        "ttf",
    )

    def __init__(
        self,
        unit_id: str,
        index: int,
        cls: EquipmentClass,
        env: simpy.Environment,
        rec: Recorder,
        site: Site,
        clock: FailureClock | None,
        maint: list[Window],
    ) -> None:
        self.id = unit_id
        self.index = index
        self.equipment_class = cls.id
        self.env = env
        self.rec = rec
        self.rows = rec.timeline()
        self.state = "idle"
        self.t0 = 0.0
        self.ctx: Ctx = NO_CTX
        self.holder: ProcState | None = None
        self.is_free = True
        self.free_since = 0.0
        self.clean_h = cls.cleaning.duration
        self.clean_hold = cls.cleaning.clean_hold
        self.dirty_hold = cls.cleaning.dirty_hold
        self.after_each_batch = cls.cleaning.after_each_batch
        # Units start the run clean, as qualified equipment does after its last clean.
        self.clean_since = 0.0
        self.dirty = False
        self.dirty_since = 0.0
        self.last_product: str | None = None
        self.clock = clock
        self.ttf = clock.next_ttf() if clock is not None else INF
        self.maint = maint
        self.maint_i = 0
        self.pending: list[Window] = []
        self.pool: ClassPool | None = None
        self.rules = site.changeovers
        self.changeovers: dict[tuple[str, str], float] = {}

    # -- timeline -----------------------------------------------------------------------

    def set(self, state: str, t: float, ctx: Ctx) -> None:
        """Enter ``state`` at ``t`` [h], closing the previous timeline row."""
        if state == self.state and ctx is self.ctx:
            return
        t0 = self.t0
        if t > t0:
            # One tuple built in place (compiled, the context's items are read in C).
            c = self.ctx
            self.rows.append((self.id, self.state, t0, t, c[0], c[1], c[2], c[3], c[4]))
        self.state = state
        self.t0 = t
        self.ctx = ctx

    def close(self, t: float) -> None:
        """Close the open row at the end of the run."""
        if t > self.t0:
            self.rows.append((self.id, self.state, self.t0, t) + self.ctx)  # noqa: RUF005
        self.t0 = t

    # -- before a batch -----------------------------------------------------------------

    def changeover(self, product: str) -> float:
        """Changeover time [h] from the last product made on the unit to ``product``."""
        last = self.last_product
        if last is None or last == product:
            return 0.0
        key = (last, product)
        h = self.changeovers.get(key)
        if h is None:
            h = self.changeovers[key] = changeover_hours(
                self.rules, self.equipment_class, last, product
            )
        return h

    def needs_cleaning(self, product: str, t: float, ctx: Ctx) -> bool:
        """Whether the unit must be cleaned before ``product`` starts at ``t``.

        Records a deviation if a dirty unit waited longer than its dirty hold.
        """
        if self.dirty:
            if self.dirty_hold is not None and t - self.dirty_since > self.dirty_hold + EPS:
                over = t - self.dirty_since - self.dirty_hold
                self.rec.event(
                    t,
                    "deviation",
                    self.id,
                    ctx,
                    over,
                    f"dirty hold {self.dirty_hold:g} h exceeded by {over:.2f} h "
                    f"(dirty since t={self.dirty_since:.2f} h)",
                )
                return True
            return product != self.last_product
        return self.clean_hold is not None and t - self.clean_since > self.clean_hold + EPS

    def cleaned(self, t: float) -> None:
        """The unit is clean as of ``t``."""
        self.clean_since = t
        self.dirty = False

    def next_maintenance(self, t: float) -> float:
        """Start of the next planned maintenance not yet begun [h] (``t`` if one is due)."""
        if self.pending:
            return t
        maint = self.maint
        if not maint:
            return INF
        i = self.maint_i
        while i < len(maint) and maint[i][0] < t - EPS:
            i += 1
        return maint[i][0] if i < len(maint) else INF

    # -- after a batch ------------------------------------------------------------------

    def release(self, t: float, used: bool, ctx: Ctx) -> None:
        """The holding unit procedure lets go of the unit at ``t``.

        ``used`` says whether product touched the unit (a phase ran); then it is cleaned
        (or left dirty in campaign mode). ``ctx`` labels the cleaning rows.
        """
        self.holder = None
        if used:
            if self.after_each_batch:
                if self.clean_h > 0.0:
                    self.set("cleaning", t, ctx)
                    self.env.timeout(self.clean_h).callbacks.append(self._cleaned)
                    return
                self.cleaned(t)
            else:
                self.dirty = True
                self.dirty_since = t
        self.after_service()

    def _cleaned(self, _ev: simpy.Event) -> None:
        self.cleaned(self.env._now)
        self.after_service()

    def after_service(self) -> None:
        """Start due maintenance, or offer the unit to waiting procedures."""
        t = self.env._now
        if self.pending:
            start, end, why = self.pending.pop(0)
            self._maintain(t, t + (end - start), why, t - start)
            return
        assert self.pool is not None
        self.pool.unit_freed(self)

    # -- planned maintenance ------------------------------------------------------------

    def maintenance_due(self) -> None:
        """The next planned window starts now (called by :class:`MaintenanceCalendar`)."""
        t = self.env._now
        window = self.maint[self.maint_i]
        self.maint_i += 1
        if self.is_free:
            assert self.pool is not None
            self.pool.take(self)
            self._maintain(t, window[1], window[2], 0.0)
        else:
            self.pending.append(window)

    def _maintain(self, t: float, end: float, why: str, late: float) -> None:
        self.set("planned_down", t, NO_CTX)
        detail = why or "planned maintenance"
        if late > EPS:
            detail += f"; deferred {late:.2f} h until the unit was free"
        self.rec.event(t, "maintenance_started", self.id, NO_CTX, end - t, detail)
        self.env.timeout(end - t).callbacks.append(self._maintained)

    def _maintained(self, _ev: simpy.Event) -> None:
        self.after_service()


class MaintenanceCalendar:
    """Starts the planned maintenance of every unit from one timer.

    A year of windows scheduled up front would sit in SimPy's event queue all run long
    and make every queue operation dearer; the calendar keeps one pending event, for
    the next window of any unit. Windows starting at the same time start in unit order.
    """

    def __init__(self, env: simpy.Environment, units: list[UnitState]) -> None:
        self.env = env
        self.due = sorted(
            ((max(w[0], 0.0), u.index, u) for u in units for w in u.maint),
            key=lambda d: (d[0], d[1]),
        )
        self.i = 0
        self._arm()

    def _arm(self) -> None:
        if self.i < len(self.due):
            start = self.due[self.i][0]
            self.env.timeout(max(start - self.env._now, 0.0)).callbacks.append(self._fire)

    def _fire(self, _ev: simpy.Event) -> None:
        now = self.env._now
        due = self.due
        while self.i < len(due) and due[self.i][0] <= now + EPS:
            unit = due[self.i][2]
            self.i += 1
            unit.maintenance_due()
        self._arm()
