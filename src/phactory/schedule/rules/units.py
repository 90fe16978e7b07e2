"""Rules about units: one batch at a time, cleaning, changeovers, maintenance, breakdowns.

Each unit's operations are taken in order of start; each is compared with the one that
freed the unit last (the latest-ending earlier operation), so that a long operation is
compared with every later one it overlaps. The three rules between neighbours form
layers that never report the same pair twice: an overlap is a double booking; a gap
shorter than the first one's cleaning is a cleaning violation; a gap that holds the
cleaning but not the product changeover after it is a changeover violation.
"""

from __future__ import annotations

from collections.abc import Iterator

from phactory.model.procedural import changeover_hours
from phactory.schedule.check_context import CheckContext, OpRow
from phactory.schedule.violations import Violation, ViolationKind

__all__ = ["Breakdowns", "Changeovers", "Cleaning", "MaintenanceWindows", "UnitDoubleBooking"]


def _neighbours(ctx: CheckContext) -> Iterator[tuple[str, float, OpRow, OpRow]]:
    """``(unit, cleaning [h], before, after)``: each operation after the one that freed
    the unit last, on known units."""
    for unit, lst in ctx.by_unit.items():
        u = ctx.site.units.get(unit)
        if u is None:
            continue
        clean = ctx.site.equipment_classes[u.equipment_class].cleaning.duration
        before = lst[0]
        for after in lst[1:]:
            yield unit, clean, before, after
            if after.end_h > before.end_h:
                before = after


def _product(ctx: CheckContext, r: OpRow) -> str:
    return ctx.expected[r.key].recipe.product


class UnitDoubleBooking:
    """A unit processes one unit procedure at a time (touching is allowed)."""

    name = "unit-double-booking"
    kinds: tuple[ViolationKind, ...] = ("overlap",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per operation starting before the unit is free."""
        out: list[Violation] = []
        for unit, _clean, a, b in _neighbours(ctx):
            if b.start_h < a.end_h - ctx.tol:
                out.append(
                    Violation(
                        "overlap",
                        f"{b.batch}/{b.procedure} and {a.batch}/{a.procedure} overlap on {unit} "
                        f"from {ctx.when(b.start_h)}",
                        b.batch,
                        b.procedure,
                        unit,
                        b.start_h,
                    )
                )
        return out


class Cleaning:
    """After each unit procedure its unit is cleaned (the class's cleaning time) before
    the next one starts."""

    name = "cleaning"
    kinds: tuple[ViolationKind, ...] = ("cleaning",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per operation that starts during its predecessor's cleaning."""
        out: list[Violation] = []
        tol = ctx.tol
        for unit, clean, a, b in _neighbours(ctx):
            if a.end_h - tol <= b.start_h < a.end_h + clean - tol:
                out.append(
                    Violation(
                        "cleaning",
                        f"{b.batch}/{b.procedure} starts on {unit} {b.start_h - a.end_h:g} h "
                        f"after {a.batch}/{a.procedure} ends; cleaning takes {clean:g} h",
                        b.batch,
                        b.procedure,
                        unit,
                        b.start_h,
                    )
                )
        return out


class Changeovers:
    """Between products, a unit is changed over after cleaning (the most specific
    changeover rule of the site) in one stretch outside planned maintenance."""

    name = "changeovers"
    kinds: tuple[ViolationKind, ...] = ("changeover",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per product change without room for its changeover."""
        out: list[Violation] = []
        tol = ctx.tol
        for unit, clean, a, b in _neighbours(ctx):
            free0 = a.end_h + clean
            if b.start_h < free0 - tol:
                continue  # a double booking or a cleaning violation
            pa, pb = _product(ctx, a), _product(ctx, b)
            cls = ctx.site.units[unit].equipment_class
            co = changeover_hours(ctx.site.changeovers, cls, pa, pb)
            if co <= 0:
                continue
            holes = sorted(
                (max(m0, free0), min(m1, b.start_h))
                for m0, m1, _ in ctx.maintenance.get(unit, [])
                if m1 > free0 and m0 < b.start_h
            )
            best, cur = 0.0, free0
            for h0, h1 in holes:
                best = max(best, h0 - cur)
                cur = max(cur, h1)
            best = max(best, b.start_h - cur)
            if best < co - tol:
                out.append(
                    Violation(
                        "changeover",
                        f"{b.batch}/{b.procedure} ({pb}) follows {a.batch}/{a.procedure} ({pa}) "
                        f"on {unit} with {b.start_h - free0:g} h after cleaning; the "
                        f"changeover takes {co:g} h",
                        b.batch,
                        b.procedure,
                        unit,
                        b.start_h,
                    )
                )
        return out


class MaintenanceWindows:
    """No processing or cleaning of a unit in its planned maintenance.

    An operation marked ``frozen`` (started before a reschedule) is a fact: the
    maintenance it runs into was deferred, so it is not checked.
    """

    name = "maintenance"
    kinds: tuple[ViolationKind, ...] = ("maintenance",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per operation (with its cleaning) overlapping a window."""
        out: list[Violation] = []
        tol = ctx.tol
        for unit, lst in ctx.by_unit.items():
            u = ctx.site.units.get(unit)
            if u is None:
                continue
            clean = ctx.site.equipment_classes[u.equipment_class].cleaning.duration
            for r in lst:
                if r.frozen:
                    continue
                end = r.end_h + clean
                for m0, m1, why in ctx.maintenance.get(unit, []):
                    if r.start_h < m1 - tol and end > m0 + tol:
                        out.append(
                            Violation(
                                "maintenance",
                                f"{r.batch}/{r.procedure} on {unit} ({ctx.when(r.start_h)} to "
                                f"{ctx.when(end)} with cleaning) overlaps maintenance '{why}' "
                                f"from {ctx.when(m0)}",
                                r.batch,
                                r.procedure,
                                unit,
                                r.start_h,
                            )
                        )
        return out


class Breakdowns:
    """No unit procedure starts, and no phase runs, on a unit while it is broken down."""

    name = "breakdowns"
    kinds: tuple[ViolationKind, ...] = ("downtime",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per start in, and per phase segment over, a breakdown."""
        out: list[Violation] = []
        tol = ctx.tol
        for unit, lst in ctx.by_unit.items():
            down = ctx.downtime.get(unit, [])
            if not down:
                continue
            for r in lst:
                for d0, d1, why in down:
                    if d0 - tol <= r.start_h < d1 - tol:
                        out.append(
                            Violation(
                                "downtime",
                                f"{r.batch}/{r.procedure} starts on {unit} while it is down "
                                f"({why})",
                                r.batch,
                                r.procedure,
                                unit,
                                r.start_h,
                            )
                        )
                for sg in ctx.segments.get(r.key, []):
                    for d0, d1, why in down:
                        if sg.start_h < d1 - tol and sg.end_h > d0 + tol:
                            out.append(
                                Violation(
                                    "downtime",
                                    f"{r.batch}/{r.procedure}: phase {sg.phase} runs on {unit} "
                                    f"while it is down ({why})",
                                    r.batch,
                                    r.procedure,
                                    unit,
                                    sg.start_h,
                                )
                            )
        return out
