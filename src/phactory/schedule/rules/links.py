"""Rules about time: links between unit procedures with their lags, release and due dates."""

from __future__ import annotations

from phactory.schedule.check_context import CheckContext
from phactory.schedule.violations import Violation, ViolationKind

__all__ = ["Deadlines", "HoldTimes", "Precedence", "ReleaseDates"]


def _gaps(ctx: CheckContext) -> list[tuple[str, str, str, float, float, float | None, float]]:
    """``(batch, procedure, predecessor, gap, min_lag, max_lag, start)`` per link [h]."""
    out = []
    for key, r in ctx.rows.items():
        for link in ctx.expected[key].procedure.after:
            pr = ctx.rows.get((r.batch, link.procedure))
            if pr is None:
                continue
            out.append(
                (
                    r.batch,
                    r.procedure,
                    link.procedure,
                    r.start_h - pr.end_h,
                    link.min_lag,
                    link.max_lag,
                    r.start_h,
                )
            )
    return out


class Precedence:
    """A unit procedure starts at least its link's minimum lag after each predecessor
    of its batch ends."""

    name = "precedence"
    kinds: tuple[ViolationKind, ...] = ("precedence",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per link started too early."""
        return [
            Violation(
                "precedence",
                f"{b}/{p} starts {gap:g} h after {pred} ends; at least {lo:g} h needed",
                b,
                p,
                ctx.rows[(b, p)].unit,
                start,
            )
            for b, p, pred, gap, lo, _hi, start in _gaps(ctx)
            if gap < lo - ctx.tol
        ]


class HoldTimes:
    """A unit procedure starts at most its link's maximum lag (the hold time of the
    intermediate, a no-wait transfer) after each predecessor ends."""

    name = "hold-times"
    kinds: tuple[ViolationKind, ...] = ("max-lag",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per link whose intermediate waits too long."""
        return [
            Violation(
                "max-lag",
                f"{b}/{p} starts {gap:g} h after {pred} ends; the hold limit is {hi:g} h",
                b,
                p,
                ctx.rows[(b, p)].unit,
                start,
            )
            for b, p, pred, gap, _lo, hi, start in _gaps(ctx)
            if hi is not None and gap > hi + ctx.tol
        ]


class ReleaseDates:
    """No unit procedure of an order starts before the order's release."""

    name = "release-dates"
    kinds: tuple[ViolationKind, ...] = ("release",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per operation starting before its order's release."""
        out: list[Violation] = []
        for key, r in ctx.rows.items():
            order = ctx.expected[key].order
            if order.release is None:
                continue
            rel = ctx.hours(order.release)
            if r.start_h < rel - ctx.tol:
                out.append(
                    Violation(
                        "release",
                        f"{r.batch}/{r.procedure} starts {ctx.when(r.start_h)}, before the "
                        f"order's release {ctx.when(rel)}",
                        r.batch,
                        r.procedure,
                        r.unit,
                        r.start_h,
                        order=order.id,
                    )
                )
        return out


class Deadlines:
    """With due dates as hard deadlines (``schedule.deadlines``), no unit procedure of an
    order ends after the order's due date."""

    name = "deadlines"
    kinds: tuple[ViolationKind, ...] = ("deadline",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per operation ending after its order's deadline."""
        if not ctx.schedule.deadlines:
            return []
        out: list[Violation] = []
        for key, r in ctx.rows.items():
            order = ctx.expected[key].order
            if order.due is None:
                continue
            due = ctx.hours(order.due)
            if r.end_h > due + ctx.tol:
                out.append(
                    Violation(
                        "deadline",
                        f"{r.batch}/{r.procedure} ends {ctx.when(r.end_h)}, after the deadline "
                        f"{ctx.when(due)}",
                        r.batch,
                        r.procedure,
                        r.unit,
                        r.end_h,
                        order=order.id,
                    )
                )
        return out
