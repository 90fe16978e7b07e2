"""From a site's plan to the scheduling :class:`~phactory.schedule.problem.Problem`.

:func:`build_problem` runs one function per section of the problem, each stating its
modelling choice:

=========================  ===========================================================
section                    function
=========================  ===========================================================
orders in the plan         :func:`select_orders` (``days``, ``orders``)
length of the calendars    :func:`calendar_horizon`
crews                      :func:`phactory.schedule.crews.labour_groups`,
                           :func:`staffed_stretches`
unit alternatives          :func:`unit_groups` (classes, calendars, maintenance,
                           breakdowns)
changeovers                :func:`changeover_times`, :func:`changeover_modes`
operations and pieces      :func:`operation_template`
batches, links and dates   :func:`operations` (precedences and lags, release, due)
started work               :func:`freeze`, :func:`frozen_holds`
=========================  ===========================================================

All times are on the integer grain of :class:`~phactory.schedule.calendar.Grain`:
processing times rounded up, staffed time inwards, unavailable time outwards, release
dates up and due dates down, so that a schedule feasible on the grain is feasible in
continuous time.

References
----------
.. [1] P. Laborie, J. Rogerie, P. Shaw, P. Vilim (2018). IBM ILOG CP Optimizer for
   scheduling. *Constraints* 23, 210-250 (interval variables, alternatives).
.. [2] M. C. Golumbic (2004). *Algorithmic Graph Theory and Perfect Graphs*, 2nd ed.,
   Elsevier, ch. 8 (interval graphs are perfect: colouring by start time is optimal).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from phactory.model import Site
from phactory.model.distribution import planned_hours
from phactory.model.procedural import changeover_hours
from phactory.schedule.calendar import Grain, longest_stretch, maintenance_intervals
from phactory.schedule.crews import labour_groups
from phactory.schedule.problem import (
    BatchInfo,
    CrewNeed,
    FrozenOp,
    Op,
    OpTemplate,
    OrderInfo,
    Part,
    Piece,
    PlanError,
    Problem,
    Segment,
    Timing,
    UnitGroup,
)

__all__ = [
    "build_problem",
    "calendar_horizon",
    "changeover_modes",
    "changeover_times",
    "freeze",
    "frozen_holds",
    "operation_template",
    "operations",
    "select_orders",
    "staffed_stretches",
    "unit_groups",
]


def build_problem(
    site: Site,
    *,
    grain_h: float = 0.25,
    days: float | None = None,
    orders: Iterable[str] | None = None,
    max_pause_h: float = 96.0,
    allow_waits: bool = True,
    circuit_limit: int = 80,
    deadlines: bool = False,
    downtime: Sequence[tuple[str, float, float, str]] = (),
    frozen: Mapping[tuple[str, str], FrozenOp] | None = None,
    start_after_h: float = 0.0,
    horizon_h: float | None = None,
    duration_quantile: float | None = None,
) -> Problem:
    """Extract the scheduling problem of ``site``'s plan.

    Parameters
    ----------
    site
        A validated site with a plan.
    grain_h
        Time grain of the model [h]; durations are rounded up to it.
    days
        Schedule only orders released in the first ``days`` days of the plan.
    orders
        Schedule only these order ids.
    max_pause_h
        Longest pause inside an operation (waiting for a crew, or between the chunks of a
        pausable phase) [h].
    allow_waits
        Whether an operation may pause before a phase whose crew is not always on duty.
    circuit_limit
        Largest number of candidate operations on a single unit for which product
        changeovers are sequenced exactly; above it they are padded.
    deadlines
        Due dates are hard deadlines.
    downtime
        Extra unavailability ``(unit, start_h, end_h, reason)`` (breakdowns).
    frozen
        Operations ``(batch id, procedure) -> FrozenOp`` that keep their unit and times.
    start_after_h
        Operations that are not frozen start at or after this time [h].
    horizon_h
        Length of the calendars [h]; by default generous enough for any sensible plan.
    duration_quantile
        Plan each phase at this quantile of its duration distribution (``0.9``: a P90
        plan, overrun one time in ten) instead of its mean: buffers that let a
        schedule hold under variability, at the cost of a longer plan.

    Returns
    -------
    Problem

    Raises
    ------
    PlanError
        If the site has no plan, no order is selected, an order or unit is unknown, a
        recipe needs a class without units, or a frozen operation is not in the plan.
    """
    if site.plan is None:
        raise PlanError("the site has no production plan")
    if duration_quantile is not None and not 0.0 < duration_quantile < 1.0:
        raise PlanError(f"duration_quantile must lie in (0, 1), got {duration_quantile!r}")
    grain = Grain(grain_h)
    chosen = select_orders(site, days, orders)
    frozen_ops = dict(frozen or {})
    recipes: dict[str, str] = {}  # recipe id -> product, in order of first use
    for i in chosen:
        rec = site.recipe_for(site.orders[i])
        recipes[rec.id] = rec.product
    if horizon_h is None:
        horizon_h = calendar_horizon(site, chosen, recipes, start_after_h)
    horizon = grain.up(horizon_h)

    skills_used = {
        lab.skill
        for rid in recipes
        for up in site.recipes[rid].unit_procedures.values()
        for ph in up.phases()
        for lab in ph.labour
    }
    skills_used.update(
        n.skill for fzo in frozen_ops.values() for seg in fzo.segments for n in seg[3]
    )
    labour, per_skill = labour_groups(site, skills_used, horizon_h, grain)
    stretch = staffed_stretches(site, recipes, per_skill)

    products_by_class: dict[str, set[str]] = {}
    for rid, prod in recipes.items():
        for up in site.recipes[rid].unit_procedures.values():
            products_by_class.setdefault(up.equipment_class, set()).add(prod)
    changeovers = changeover_times(site, products_by_class, grain)
    groups = unit_groups(site, recipes, grain, horizon, downtime)

    start_after = grain.up(start_after_h) if start_after_h > 0 else 0
    order_infos, batches, ops = operations(
        site,
        chosen,
        groups,
        grain,
        start_after=start_after,
        template=lambda rid, pid: operation_template(
            site, rid, pid, grain, stretch, allow_waits, duration_quantile
        ),
    )
    freeze(ops, batches, groups, frozen_ops, grain)
    pad = changeover_modes(groups, ops, products_by_class, changeovers, circuit_limit)
    frozen_holds(groups, ops, pad)
    return Problem(
        site=site,
        grain=grain,
        horizon=horizon,
        ops=ops,
        batches=batches,
        orders=order_infos,
        groups=groups,
        labour=labour,
        max_pause=grain.down(max_pause_h),
        deadlines=deadlines,
        start_after=start_after,
        changeovers=changeovers,
        pad=pad,
        downtime=list(downtime),
        products_by_class=products_by_class,
        duration_quantile=duration_quantile,
    )


# -- the plan ----------------------------------------------------------------------------


def select_orders(site: Site, days: float | None, order_ids: Iterable[str] | None) -> list[int]:
    """Indices into ``site.orders`` of the orders to schedule, in plan order.

    Modelling choice
        A restriction to the first ``days`` days keeps the orders *released* before
        then (an order without a release date is released at the plan start); their
        batches are scheduled in full, however long they run.

    Raises
    ------
    PlanError
        For an unknown order id, or when nothing is left to schedule.
    """
    all_orders = site.orders
    keep = list(range(len(all_orders)))
    if order_ids is not None:
        wanted = set(order_ids)
        unknown = wanted - {o.id for o in all_orders}
        if unknown:
            raise PlanError(f"unknown order(s): {', '.join(sorted(unknown))}")
        keep = [i for i in keep if all_orders[i].id in wanted]
    if days is not None:
        limit = days * 24.0
        keep = [i for i in keep if _release_h(site, all_orders[i].release) < limit - 1e-9]
    if not keep:
        raise PlanError("no orders to schedule" + (f" in the first {days:g} days" if days else ""))
    return keep


def _release_h(site: Site, release: Any) -> float:
    return site.to_hours(release) if release is not None else 0.0


def calendar_horizon(
    site: Site, chosen: Sequence[int], recipes: Mapping[str, str], start_after_h: float
) -> float:
    """How far the calendars (shifts, maintenance, headcount) are laid out [h].

    Modelling choice
        Generous rather than tight, since it only bounds the variables: the plan's
        horizon, the latest due date, twice the longest recipe's critical path after
        the latest release (and after ``start_after_h``), plus 60 days and one more
        critical path. The solver tightens its variables' bounds from the warm start.
    """
    assert site.plan is not None
    rel_max = 0.0
    due_max = 0.0
    for i in chosen:
        o = site.orders[i]
        if o.release is not None:
            rel_max = max(rel_max, site.to_hours(o.release))
        if o.due is not None:
            due_max = max(due_max, site.to_hours(o.due))
    cp_max = max(site.recipes[r].critical_path()[0] for r in recipes)
    return (
        max(site.plan.horizon, due_max, rel_max + 2.0 * cp_max, start_after_h + 2 * cp_max)
        + 60 * 24.0
        + 2.0 * cp_max
    )


# -- crews ---------------------------------------------------------------------------------


def staffed_stretches(
    site: Site, recipes: Mapping[str, str], per_skill: Mapping[str, list[tuple[int, int, int]]]
) -> dict[tuple[str, int], float]:
    """Longest continuously staffed time of each ``(skill, count)`` a phase needs [grains].

    Modelling choice
        A phase whose crew is on duty around the clock (``inf``) never waits for people;
        a pausable phase with a labour portion longer than its stretch is worked in
        chunks (see :func:`operation_template`).
    """
    stretch: dict[tuple[str, int], float] = {}
    for rid in recipes:
        for up in site.recipes[rid].unit_procedures.values():
            for ph in up.phases():
                for lab in ph.labour:
                    key = (lab.skill, lab.count)
                    if key not in stretch:
                        stretch[key] = longest_stretch(
                            [(float(a), float(b), c) for a, b, c in per_skill[lab.skill]],
                            lab.count,
                        )
    return stretch


# -- units ---------------------------------------------------------------------------------


def unit_groups(
    site: Site,
    recipes: Mapping[str, str],
    grain: Grain,
    horizon: int,
    downtime: Sequence[tuple[str, float, float, str]],
) -> list[UnitGroup]:
    """Interchangeable units: the alternatives an operation chooses from.

    Modelling choice
        Units of a class with identical calendars (planned maintenance, with the
        cleaning a long window needs, and breakdowns, rounded outwards to the grain) are
        pooled: an operation chooses a group, the group is a cumulative resource of
        capacity = its number of units, and units are assigned after solving by interval
        colouring, which is exact for identical units [2]_. This keeps alternatives few
        on scale-out sites (60 expansion bioreactors in three maintenance rooms are
        three choices, not sixty). Groups come by class (sorted), then in unit order.

    Raises
    ------
    PlanError
        If a breakdown names an unknown unit.
    """
    maint = maintenance_intervals(site, grain.h(horizon))
    down_by_unit: dict[str, list[tuple[float, float]]] = {}
    for unit, a, b, _reason in downtime:
        if unit not in site.units:
            raise PlanError(f"unknown unit {unit!r} in the downtime")
        down_by_unit.setdefault(unit, []).append((a, b))
    classes_used = {
        up.equipment_class for rid in recipes for up in site.recipes[rid].unit_procedures.values()
    }
    groups: list[UnitGroup] = []
    for cls_id in sorted(classes_used):
        by_key: dict[tuple[tuple[int, int], ...], list[str]] = {}
        for u in site.units_of_class(cls_id):
            spans = [*maint.get(u.id, []), *down_by_unit.get(u.id, [])]
            cal_key = tuple(sorted((grain.down(a), grain.up(b)) for a, b in spans))
            by_key.setdefault(cal_key, []).append(u.id)
        for cal_key, ids in by_key.items():
            groups.append(UnitGroup(len(groups), cls_id, tuple(ids), _merge_int(cal_key)))
    return groups


# -- changeovers ---------------------------------------------------------------------------


def changeover_times(
    site: Site, products_by_class: Mapping[str, set[str]], grain: Grain
) -> dict[tuple[str, str, str], int]:
    """``(class, from product, to product) -> changeover`` between different products
    of the plan [grains, rounded up]; pairs that need none are left out.

    Modelling choice
        A changeover comes on top of the routine cleaning after each batch; the most
        specific rule of the site applies (:func:`phactory.model.changeover_hours`).
    """
    changeovers: dict[tuple[str, str, str], int] = {}
    for cls_id, prods in products_by_class.items():
        for pa in prods:
            for pb in prods:
                if pa != pb:
                    h = changeover_hours(site.changeovers, cls_id, pa, pb)
                    if h > 0:
                        changeovers[(cls_id, pa, pb)] = grain.up(h)
    return changeovers


def changeover_modes(
    groups: list[UnitGroup],
    ops: Sequence[Op],
    products_by_class: Mapping[str, set[str]],
    changeovers: Mapping[tuple[str, str, str], int],
    circuit_limit: int,
) -> dict[tuple[int, str], int]:
    """How each unit group models product changeovers; the pads of ``pad`` groups.

    Modelling choice
        On a single-unit group with at most ``circuit_limit`` candidate operations the
        product sequence is modelled exactly (``circuit``), starting from the product
        of its last frozen operation; elsewhere each operation reserves, after its
        cleaning, the longest changeover its product may need to any other product of
        the plan (``pad``), a conservative approximation that keeps large sites
        tractable. Groups whose class needs no changeover are ``none``.

    Returns
    -------
    dict
        ``(group, product) -> pad`` [grains] of the ``pad`` groups (the groups' modes
        and initial products are set in place).
    """
    candidates: dict[str, int] = {}
    for op in ops:
        if op.frozen is None:
            candidates[op.equipment_class] = candidates.get(op.equipment_class, 0) + 1
    pad: dict[tuple[int, str], int] = {}
    for g in groups:
        prods = products_by_class.get(g.equipment_class, set())
        worst = {
            p: max((changeovers.get((g.equipment_class, p, q), 0) for q in prods), default=0)
            for p in prods
        }
        if not any(worst.values()):
            g.changeover = "none"
            continue
        if g.capacity == 1 and candidates.get(g.equipment_class, 0) <= circuit_limit:
            g.changeover = "circuit"
            last: tuple[int, str] | None = None
            for op in ops:
                if op.frozen is not None and op.frozen.group == g.idx:
                    end = op.frozen.end + op.clean
                    if last is None or end > last[0]:
                        last = (end, op.product)
            if last is not None:
                g.initial = (last[1], last[0])
        else:
            g.changeover = "pad"
            for p, w in worst.items():
                pad[(g.idx, p)] = w
    return pad


# -- operations ----------------------------------------------------------------------------


def operations(
    site: Site,
    chosen: Sequence[int],
    groups: Sequence[UnitGroup],
    grain: Grain,
    *,
    start_after: int,
    template: Callable[[str, str], OpTemplate],
) -> tuple[list[OrderInfo], list[BatchInfo], list[Op]]:
    """Orders, their batches, and one operation per unit procedure of each batch.

    Modelling choice
        An ISA-88 unit procedure runs on one unit of its equipment class, chosen among
        the class's groups; batches are ``{order}-B{k:02d}`` as in the twin. Links
        between unit procedures of a batch become precedences ``S_succ >= E_pred +
        min_lag`` and, for hold times, ``S_succ <= E_pred + max_lag`` (lags rounded up
        and down to the grain respectively). An operation starts at or after its
        order's release (rounded up) and ``start_after``; a due date (rounded down) is
        the order's target, weighted by its priority (at least 1). Each operation is
        followed on its unit by the class's cleaning (rounded up).

    Parameters
    ----------
    template
        ``template(recipe id, procedure id) -> OpTemplate`` (see
        :func:`operation_template`); called once per unit procedure of a recipe.

    Raises
    ------
    PlanError
        If a recipe's unit procedures form a cycle or need a class without units.
    """
    groups_of_class: dict[str, list[int]] = {}
    for g in groups:
        groups_of_class.setdefault(g.equipment_class, []).append(g.idx)
    templates: dict[tuple[str, str], OpTemplate] = {}
    ops: list[Op] = []
    batches: list[BatchInfo] = []
    order_infos: list[OrderInfo] = []
    for oi in chosen:
        o = site.orders[oi]
        rec = site.recipe_for(o)
        rel_h = site.to_hours(o.release) if o.release is not None else 0.0
        due_h = site.to_hours(o.due) if o.due is not None else None
        info = OrderInfo(
            idx=len(order_infos),
            id=o.id,
            product=rec.product,
            release=max(grain.up(rel_h), 0),
            release_h=rel_h,
            due=grain.down(due_h) if due_h is not None else None,
            due_h=due_h,
            weight=max(1, o.priority),
            priority=o.priority,
        )
        order_infos.append(info)
        topo = rec.topological_order()
        if len(topo) != len(rec.unit_procedures):
            raise PlanError(f"recipe {rec.id!r}: unit procedures form a cycle")
        for bid in site.batch_ids(o):
            batch = BatchInfo(len(batches), bid, info.idx, rec.product, rec.id)
            batches.append(batch)
            info.batches.append(batch.idx)
            local: dict[str, int] = {}
            for pid in topo:
                up = rec.unit_procedures[pid]
                tkey = (rec.id, pid)
                if tkey not in templates:
                    templates[tkey] = template(rec.id, pid)
                eq = site.equipment_classes.get(up.equipment_class)
                if eq is None or not groups_of_class.get(up.equipment_class):
                    raise PlanError(
                        f"recipe {rec.id!r}, unit procedure {pid!r}: no units of class "
                        f"{up.equipment_class!r}"
                    )
                op = Op(
                    idx=len(ops),
                    batch=batch.idx,
                    procedure=pid,
                    product=rec.product,
                    equipment_class=up.equipment_class,
                    template=templates[tkey],
                    groups=tuple(groups_of_class[up.equipment_class]),
                    clean=grain.up(eq.cleaning.duration),
                    release=max(info.release, start_after),
                )
                for link in up.after:
                    pred = local[link.procedure]
                    op.preds.append(
                        (
                            pred,
                            grain.up(link.min_lag),
                            grain.down(link.max_lag) if link.max_lag is not None else None,
                        )
                    )
                    ops[pred].succs.append(op.idx)
                local[pid] = op.idx
                ops.append(op)
                batch.ops.append(op.idx)
    return order_infos, batches, ops


# -- started work ----------------------------------------------------------------------------


def freeze(
    ops: Sequence[Op],
    batches: Sequence[BatchInfo],
    groups: Sequence[UnitGroup],
    frozen: Mapping[tuple[str, str], FrozenOp],
    grain: Grain,
) -> None:
    """Fix the operations that started before a reschedule to their unit and times.

    Modelling choice
        Started work is a fact: it keeps its unit, its times and its phase segments as
        executed (a pause for a breakdown included), rounded to the nearest grain
        step; it still holds its unit and its crews in the model.

    Raises
    ------
    PlanError
        If a frozen operation names an unknown unit or is not in the plan.
    """
    left = dict(frozen)
    unit_group = {uid: g.idx for g in groups for uid in g.units}
    for op in ops:
        key = (batches[op.batch].id, op.procedure)
        fz = left.pop(key, None)
        if fz is None:
            continue
        if fz.unit not in unit_group:
            raise PlanError(f"frozen operation {key[0]}/{key[1]}: unknown unit {fz.unit!r}")
        op.frozen = Timing(
            start=grain.nearest(fz.start_h),
            end=grain.nearest(fz.end_h),
            group=unit_group[fz.unit],
            setup=grain.nearest(fz.setup_h),
            segments=[
                Segment(ph, grain.nearest(a0), grain.nearest(e0), needs)
                for ph, a0, e0, needs in fz.segments
            ],
            unit=fz.unit,
        )
    if left:
        first = next(iter(left))
        raise PlanError(f"frozen operation {first[0]}/{first[1]} is not in the plan")


def frozen_holds(
    groups: Sequence[UnitGroup], ops: Sequence[Op], pad: Mapping[tuple[int, str], int]
) -> None:
    """Remove from single units' blocked time what frozen operations hold there.

    Modelling choice
        A frozen operation paused by a breakdown spans the outage on its (single) unit:
        the unit is taken by it there (changeover, processing, cleaning and pad), so
        the outage is no separate block that would collide with it.
    """
    for g in groups:
        if g.capacity != 1:
            continue
        held = [
            (
                op.frozen.start - op.frozen.setup,
                op.frozen.end + op.clean + pad.get((g.idx, op.product), 0),
            )
            for op in ops
            if op.frozen is not None and op.frozen.group == g.idx
        ]
        if held:
            g.blocks = _subtract_int(g.blocks, _merge_int(held))


# -- how a unit procedure runs -------------------------------------------------------------


def operation_template(
    site: Site,
    recipe_id: str,
    proc_id: str,
    grain: Grain,
    stretch: Mapping[tuple[str, int], float],
    allow_waits: bool,
    duration_quantile: float | None,
) -> OpTemplate:
    """How a unit procedure runs on the grain: its phases cut into pieces and parts.

    Modelling choice
        Phase durations are the recipe's means (or the ``duration_quantile`` of their
        distributions) rounded *up* to the grain, at least one step. A phase's crew is
        held for the whole phase (scope ``phase``) or its set-up (scope ``setup``), so a
        phase is cut where a crew is released. Phases run back to back in a *fixed*
        piece; with ``allow_waits``, the unit procedure may pause (its unit held) before
        a phase whose crew is not on duty around the clock, which starts a new piece. A
        pausable (not ``continuous``) phase whose labour portion is longer than the
        longest staffed stretch of its skills (``stretch``) becomes a *chunked* piece,
        worked in up to ``ceil(portion / stretch) + 2`` chunks with the phase paused in
        between, as the twin does when a shift ends.
    """
    up = site.recipes[recipe_id].unit_procedures[proc_id]
    pieces: list[Piece] = []
    parts: list[Part] = []
    length = 0
    wait_first = False

    def close() -> None:
        nonlocal parts, length, wait_first
        if parts:
            pieces.append(Piece("fixed", wait_first, length, tuple(parts)))
        parts, length, wait_first = [], 0, False

    phase_ids: list[str] = []
    for op in up.operations.values():
        for ph in op.phases.values():
            pid = f"{op.id}/{ph.id}" if len(up.operations) > 1 else ph.id
            phase_ids.append(pid)
            d = max(grain.up(planned_hours(ph.duration, duration_quantile)), 1)
            reqs: list[tuple[CrewNeed, int]] = []
            for lab in ph.labour:
                portion = d if lab.scope == "phase" or lab.setup is None else grain.up(lab.setup)
                reqs.append((CrewNeed(lab.skill, lab.count), min(max(portion, 1), d)))
            if not reqs:
                parts.append(Part(pid, length, d, ()))
                length += d
                continue
            ell = max(p for _, p in reqs)
            w = min(stretch.get((n.skill, n.count), 0.0) for n, _ in reqs)
            staffed_always = math.isinf(w)
            if allow_waits and not staffed_always and (parts or pieces):
                close()
                wait_first = True
            if not ph.continuous and not staffed_always and w > 0 and ell > w:
                close_wait = wait_first and not parts
                close()
                needs = tuple(sorted({n for n, _ in reqs}, key=lambda n: (n.skill, n.count)))
                chunks = math.ceil(ell / w) + 2
                pieces.append(
                    Piece("chunked", close_wait, ell, (Part(pid, 0, ell, needs),), chunks)
                )
                if d > ell:
                    parts.append(Part(pid, 0, d - ell, ()))
                    length = d - ell
                continue
            cuts = sorted({0, d} | {p for _, p in reqs})
            for a, b in itertools.pairwise(cuts):
                needs = tuple(
                    sorted((n for n, p in reqs if p > a), key=lambda n: (n.skill, n.count))
                )
                parts.append(Part(pid, length + a, b - a, needs))
            length += d
    close()
    return OpTemplate(recipe_id, proc_id, up.equipment_class, tuple(phase_ids), tuple(pieces))


def _merge_int(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract_int(
    spans: list[tuple[int, int]], holes: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in spans:
        parts = [(a, b)]
        for h0, h1 in holes:
            parts = [
                q for p0, p1 in parts for q in ((p0, min(p1, h0)), (max(p0, h1), p1)) if q[1] > q[0]
            ]
        out.extend(parts)
    return out
