"""Rules about what is scheduled: status, site, completeness of the plan, equipment."""

from __future__ import annotations

from collections import Counter, defaultdict

from phactory.schedule.check_context import CheckContext
from phactory.schedule.violations import Violation, ViolationKind

__all__ = ["Completeness", "Equipment", "SiteIdentity", "SolveStatus"]


class SolveStatus:
    """A schedule whose status says no schedule was found is never valid.

    ``phactory schedule`` writes such a file for an infeasible plan (with the
    explanation) or when the time ran out; it holds no plan to run.
    """

    name = "solve-status"
    kinds: tuple[ViolationKind, ...] = ("status",)

    def check(self, ctx: CheckContext) -> list[Violation]:
        """One violation if the status is ``infeasible`` or ``unknown``."""
        s = ctx.schedule
        if s.status not in ("infeasible", "unknown"):
            return []
        why = f": {s.explanation}" if s.explanation else ""
        return [Violation("status", f"the schedule records no solution (status {s.status}){why}")]


class SiteIdentity:
    """The schedule is for this site and counts hours from this site's plan start."""

    name = "site-identity"
    kinds: tuple[ViolationKind, ...] = ("site", "epoch")

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation for another site's id and one for another epoch (beyond 1 s)."""
        out: list[Violation] = []
        s, site = ctx.schedule, ctx.site
        if s.site != site.id:
            out.append(Violation("site", f"the schedule is for site {s.site!r}, not {site.id!r}"))
        if abs((s.epoch - site.epoch).total_seconds()) > 1.0:
            out.append(
                Violation(
                    "epoch", f"the schedule's epoch {s.epoch} is not the plan start {site.epoch}"
                )
            )
        return out


class Completeness:
    """Each unit procedure of each batch of the scope's orders is scheduled exactly once.

    The scope is the schedule's (the orders it was made for) or, for a schedule that
    records none, the whole plan. What is absent is named at its level: an order with
    nothing scheduled (``missing-order``), a batch of a scheduled order with nothing
    (``missing-batch``), a unit procedure of a scheduled batch (``missing``). Rows twice
    (``duplicate``), rows for work outside the scope or the plan and scope orders the plan
    does not have (``unknown``), and rows with non-finite times (``time``) are reported.
    """

    name = "completeness"
    kinds: tuple[ViolationKind, ...] = (
        "missing-order",
        "missing-batch",
        "missing",
        "duplicate",
        "unknown",
        "time",
    )

    def check(self, ctx: CheckContext) -> list[Violation]:
        """Every absent, repeated, unknown or non-finite operation."""
        out: list[Violation] = []
        for oid in ctx.scope:
            if oid not in ctx.plan_orders:
                out.append(
                    Violation("unknown", f"order {oid!r} is not in the site's plan", order=oid)
                )
        seen: Counter[tuple[str, str]] = Counter()
        for r in ctx.all_rows:
            b, p = r.key
            if not r.finite:
                out.append(Violation("time", f"{b}/{p} has a non-finite time", b, p, r.unit))
                continue
            seen[r.key] += 1
            if seen[r.key] == 2:
                out.append(Violation("duplicate", f"{b}/{p} is scheduled more than once", b, p))
            if r.key not in ctx.expected and seen[r.key] == 1:
                out.append(
                    Violation(
                        "unknown",
                        f"{b}/{p} is not a unit procedure of an order in the schedule's scope",
                        b,
                        p,
                        r.unit,
                    )
                )
        done = ctx.rows
        of_batch: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for k in ctx.expected:
            of_batch[k[0]].append(k)
        for oid, bids in ctx.batches.items():
            keys = {bid: of_batch[bid] for bid in bids}
            if not any(k in done for ks in keys.values() for k in ks):
                n_up = len(ctx.site.recipe_for(ctx.plan_orders[oid]).unit_procedures)
                out.append(
                    Violation(
                        "missing-order",
                        f"order {oid} is not scheduled ({len(bids)} batch(es) of "
                        f"{n_up} unit procedure(s) each)",
                        order=oid,
                    )
                )
                continue
            for bid, ks in keys.items():
                if not any(k in done for k in ks):
                    out.append(
                        Violation(
                            "missing-batch",
                            f"batch {bid} of order {oid} is not scheduled",
                            bid,
                            order=oid,
                        )
                    )
                    continue
                for b, p in ks:
                    if (b, p) not in done:
                        out.append(
                            Violation("missing", f"{b}/{p} is not scheduled", b, p, order=oid)
                        )
        return out


class Equipment:
    """Each unit procedure runs on an existing unit of its recipe's equipment class."""

    name = "equipment"
    kinds: tuple[ViolationKind, ...] = ("unknown-unit", "wrong-class")

    def check(self, ctx: CheckContext) -> list[Violation]:
        """A violation per operation on an unknown unit or a unit of another class."""
        out: list[Violation] = []
        for key, r in ctx.rows.items():
            b, p = key
            want = ctx.expected[key].procedure.equipment_class
            u = ctx.site.units.get(r.unit)
            if u is None:
                out.append(
                    Violation("unknown-unit", f"{b}/{p}: unknown unit {r.unit!r}", b, p, r.unit)
                )
            elif u.equipment_class != want:
                out.append(
                    Violation(
                        "wrong-class",
                        f"{b}/{p} needs a {want!r} unit but {r.unit} is a {u.equipment_class!r}",
                        b,
                        p,
                        r.unit,
                    )
                )
        return out
