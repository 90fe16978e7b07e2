"""The scheduling problem of a site: operations, unit groups and crews on an integer grain.

:func:`build_problem` turns a :class:`~phactory.model.Site` and its plan into the data the
dispatch heuristic (:mod:`.heuristic`) and the CP-SAT model (:mod:`.model_builder`) share:

Operations
    One per unit procedure of each batch (an ISA-88 unit procedure runs on one unit of
    its equipment class). Phase durations are recipe means rounded *up* to the grain.
    An operation is a chain of *pieces*: a fixed piece runs its phases back to back; a
    pause (the unit held, waiting for people) may come before a piece that starts with a
    phase whose crew is not on duty around the clock; a *chunked* piece is the labour
    portion of a pausable phase that is longer than any staffed stretch of its skill
    (e.g. 8 h of QC set-up with 4 h half-shifts): it is worked in up to ``max_chunks``
    stretches with the phase paused in between, as the twin does when a shift ends.
    Pauses are at most ``max_pause`` long.
Unit groups
    Units of a class with identical calendars (maintenance windows, outages) are pooled:
    an operation chooses a group, the group is a cumulative resource of capacity = its
    number of units, and units are assigned after solving by interval colouring, which
    is exact for identical units [2]_. This keeps alternatives few on scale-out sites (60
    expansion bioreactors in three maintenance rooms are three choices, not sixty).
Changeovers
    On a single-unit group with few candidate operations the product sequence is modelled
    exactly (``circuit``); elsewhere each operation reserves, after its cleaning, the
    longest changeover its product may need to any other product of the plan (``pad``),
    a conservative approximation that keeps large sites tractable.
Crews
    Skills that teams share are coupled: for every set of skills that is maximal for
    its set of teams, the people needed from those skills at any time must not exceed
    the headcount on duty of the teams holding any of them (Hall's condition for the
    transportation of people to needs [3]_, exact when a need may be split over teams).

References
----------
.. [1] P. Laborie, J. Rogerie, P. Shaw, P. Vilim (2018). IBM ILOG CP Optimizer for
   scheduling. *Constraints* 23, 210-250 (interval variables, alternatives).
.. [2] M. C. Golumbic (2004). *Algorithmic Graph Theory and Perfect Graphs*, 2nd ed.,
   Elsevier, ch. 8 (interval graphs are perfect: colouring by start time is optimal).
.. [3] P. Hall (1935). On representatives of subsets. *J. London Math. Soc.* 10, 26-30.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from phactory.model import Site
from phactory.model.distribution import planned_hours
from phactory.model.procedural import changeover_hours
from phactory.schedule.calendar import (
    Grain,
    capacity_profile,
    longest_stretch,
    maintenance_intervals,
    staffed_intervals,
)

__all__ = [
    "BatchInfo",
    "CrewNeed",
    "FrozenOp",
    "LabourGroup",
    "Op",
    "OpTemplate",
    "OrderInfo",
    "Part",
    "Piece",
    "PlanError",
    "Problem",
    "Segment",
    "Timing",
    "UnitGroup",
    "build_problem",
    "changeover_hours",
]

ChangeoverMode = Literal["none", "circuit", "pad"]


class PlanError(ValueError):
    """The site or plan cannot be scheduled as given (no orders, unknown recipe, ...)."""


@dataclass(frozen=True, slots=True)
class CrewNeed:
    """``count`` people holding ``skill``."""

    skill: str
    count: int


@dataclass(frozen=True, slots=True)
class Part:
    """A stretch of one phase inside a piece, with the crew it holds [grains]."""

    phase: str
    offset: int
    length: int
    needs: tuple[CrewNeed, ...]


@dataclass(frozen=True, slots=True)
class Piece:
    """Phases that run without pause (``fixed``) or a labour portion worked in chunks."""

    kind: Literal["fixed", "chunked"]
    wait_before: bool
    length: int
    parts: tuple[Part, ...]
    max_chunks: int = 1


@dataclass(frozen=True, slots=True)
class OpTemplate:
    """How one unit procedure of a recipe runs, on the grain."""

    recipe: str
    procedure: str
    equipment_class: str
    phases: tuple[str, ...]
    pieces: tuple[Piece, ...]

    @property
    def fixed_length(self) -> int | None:
        """Length if the operation can never pause [grains], else ``None``."""
        if len(self.pieces) == 1 and self.pieces[0].kind == "fixed":
            return self.pieces[0].length
        return None

    @property
    def min_length(self) -> int:
        """Length without pauses [grains]."""
        return sum(p.length for p in self.pieces)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of a phase on the time line [grains], with the crew it holds."""

    phase: str
    start: int
    end: int
    needs: tuple[CrewNeed, ...]


@dataclass(slots=True)
class Timing:
    """When and where an operation runs [grains].

    ``pieces`` holds per piece its start, and for a chunked piece its chunks
    ``(start, length)``. ``segments`` is set instead for frozen operations, whose
    execution may differ from the template (e.g. paused by a breakdown).
    """

    start: int
    end: int
    group: int
    setup: int = 0
    pieces: list[tuple[int, tuple[tuple[int, int], ...]]] = field(default_factory=list)
    segments: list[Segment] | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class FrozenOp:
    """An operation that keeps its unit and times (started before a reschedule) [h]."""

    unit: str
    start_h: float
    end_h: float
    segments: tuple[tuple[str, float, float, tuple[CrewNeed, ...]], ...]
    setup_h: float = 0.0


@dataclass(slots=True)
class Op:
    """One unit procedure of one batch."""

    idx: int
    batch: int
    procedure: str
    product: str
    equipment_class: str
    template: OpTemplate
    groups: tuple[int, ...]
    clean: int
    release: int
    preds: list[tuple[int, int, int | None]] = field(default_factory=list)
    succs: list[int] = field(default_factory=list)
    frozen: Timing | None = None

    @property
    def final(self) -> bool:
        """Whether no unit procedure of the batch follows this one."""
        return not self.succs


@dataclass(slots=True)
class BatchInfo:
    """A batch of an order: ``{order}-B{k:02d}`` as in the twin."""

    idx: int
    id: str
    order: int
    product: str
    recipe: str
    ops: list[int] = field(default_factory=list)


@dataclass(slots=True)
class OrderInfo:
    """An order: release and due [grains], weight = its priority (at least 1)."""

    idx: int
    id: str
    product: str
    release: int
    release_h: float
    due: int | None
    due_h: float | None
    weight: int
    priority: int
    batches: list[int] = field(default_factory=list)


@dataclass(slots=True)
class UnitGroup:
    """Interchangeable units of one class with the same calendar."""

    idx: int
    equipment_class: str
    units: tuple[str, ...]
    blocks: list[tuple[int, int]]
    changeover: ChangeoverMode = "none"
    initial: tuple[str | None, int] = (None, 0)

    @property
    def capacity(self) -> int:
        """Number of units."""
        return len(self.units)


@dataclass(slots=True)
class LabourGroup:
    """A set of skills whose people come from the same teams, with their headcount."""

    idx: int
    skills: frozenset[str]
    teams: tuple[str, ...]
    profile: list[tuple[int, int, int]]
    cmax: int


@dataclass(slots=True)
class Problem:
    """Everything the heuristic and the CP-SAT model need, on the integer grain."""

    site: Site
    grain: Grain
    horizon: int
    ops: list[Op]
    batches: list[BatchInfo]
    orders: list[OrderInfo]
    groups: list[UnitGroup]
    labour: list[LabourGroup]
    max_pause: int
    deadlines: bool
    start_after: int
    changeovers: dict[tuple[str, str, str], int]
    pad: dict[tuple[int, str], int]
    downtime: list[tuple[str, float, float, str]]
    products_by_class: dict[str, set[str]]
    duration_quantile: float | None = None
    _demand_cache: dict[tuple[CrewNeed, ...], list[tuple[int, int]]] = field(default_factory=dict)

    def changeover(self, equipment_class: str, from_product: str | None, to_product: str) -> int:
        """Changeover time between products on a class [grains]; 0 for none or the same."""
        if from_product is None or from_product == to_product:
            return 0
        return self.changeovers.get((equipment_class, from_product, to_product), 0)

    def demands(self, needs: tuple[CrewNeed, ...]) -> list[tuple[int, int]]:
        """``(labour group, people)`` drawn by a crew."""
        got = self._demand_cache.get(needs)
        if got is None:
            got = []
            for g in self.labour:
                d = sum(n.count for n in needs if n.skill in g.skills)
                if d > 0:
                    got.append((g.idx, d))
            self._demand_cache[needs] = got
        return got

    def op_segments(self, op: Op, timing: Timing) -> list[Segment]:
        """The phase segments of an operation placed by ``timing``."""
        if timing.segments is not None:
            return list(timing.segments)
        out: list[Segment] = []
        for piece, (pstart, chunks) in zip(op.template.pieces, timing.pieces, strict=True):
            if piece.kind == "fixed":
                for part in piece.parts:
                    a = pstart + part.offset
                    out.append(Segment(part.phase, a, a + part.length, part.needs))
            else:
                part = piece.parts[0]
                for c0, size in chunks:
                    if size > 0:
                        out.append(Segment(part.phase, c0, c0 + size, part.needs))
        return out

    def h(self, steps: int) -> float:
        """Hours of ``steps`` grain steps."""
        return self.grain.h(steps)


# -- building ------------------------------------------------------------------------------


def _select_orders(site: Site, days: float | None, order_ids: Iterable[str] | None) -> list[int]:
    orders = site.orders
    keep = list(range(len(orders)))
    if order_ids is not None:
        wanted = set(order_ids)
        unknown = wanted - {o.id for o in orders}
        if unknown:
            raise PlanError(f"unknown order(s): {', '.join(sorted(unknown))}")
        keep = [i for i in keep if orders[i].id in wanted]
    if days is not None:
        limit = days * 24.0
        keep = [i for i in keep if _release_h(site, orders[i].release) < limit - 1e-9]
    return keep


def _release_h(site: Site, release: Any) -> float:
    return site.to_hours(release) if release is not None else 0.0


def _labour_groups(
    site: Site, skills_used: set[str], horizon_h: float, grain: Grain
) -> tuple[list[LabourGroup], dict[str, list[tuple[int, int, int]]]]:
    """Coupled skill sets (maximal for their team sets) with headcount profiles [grains]."""
    teams_of: dict[str, frozenset[str]] = {
        s: frozenset(t.id for t in site.teams.values() if s in t.skills) for s in skills_used
    }
    staffed: dict[str, list[tuple[int, int]]] = {}
    for t in site.teams.values():
        spans = staffed_intervals(site, t, grain.h(grain.up(horizon_h)))
        staffed[t.id] = [
            (grain.up(a), grain.down(b)) for a, b in spans if grain.down(b) > grain.up(a)
        ]

    def profile(team_ids: Iterable[str]) -> list[tuple[int, int, int]]:
        crews = [(staffed[t], site.teams[t].headcount) for t in sorted(team_ids)]
        prof = capacity_profile(
            [([(float(a), float(b)) for a, b in sp], hc) for sp, hc in crews],
            float(grain.up(horizon_h)),
        )
        return [(round(a), round(b), c) for a, b, c in prof]

    per_skill = {s: profile(teams_of[s]) for s in skills_used}
    # Components of the skill-team graph, then connected skill subsets within each.
    skills = sorted(skills_used)
    comp: dict[str, int] = {}
    for s in skills:
        if s in comp:
            continue
        stack, cid = [s], len(set(comp.values()))
        while stack:
            x = stack.pop()
            if x in comp:
                continue
            comp[x] = cid
            stack.extend(y for y in skills if y not in comp and teams_of[y] & teams_of[x])
    groups: list[LabourGroup] = []
    seen: set[frozenset[str]] = set()
    for cid in sorted(set(comp.values())):
        members = [s for s in skills if comp[s] == cid]
        if len(members) > 12:
            # Too many coupled skills to enumerate: one constraint per skill and one for
            # the whole component (a relaxation; the checker still verifies crews).
            subsets: Iterable[tuple[str, ...]] = [(s,) for s in members] + [tuple(members)]
        else:
            subsets = (
                c for r in range(1, len(members) + 1) for c in itertools.combinations(members, r)
            )
        for sub in subsets:
            sset = frozenset(sub)
            teams = frozenset().union(*(teams_of[s] for s in sset))
            if any(teams_of[x] <= teams for x in members if x not in sset):
                continue  # a larger skill set with the same teams dominates this one
            if len(sset) > 1 and not _connected(sset, teams_of):
                continue  # implied by its connected parts
            if sset in seen:
                continue
            seen.add(sset)
            prof = profile(teams)
            cmax = max((c for _, _, c in prof), default=0)
            groups.append(LabourGroup(len(groups), sset, tuple(sorted(teams)), prof, cmax))
    return groups, per_skill


def _connected(skills: frozenset[str], teams_of: Mapping[str, frozenset[str]]) -> bool:
    items = sorted(skills)
    reached = {items[0]}
    stack = [items[0]]
    while stack:
        x = stack.pop()
        for y in items:
            if y not in reached and teams_of[x] & teams_of[y]:
                reached.add(y)
                stack.append(y)
    return len(reached) == len(items)


def _template(
    site: Site,
    recipe_id: str,
    proc_id: str,
    grain: Grain,
    stretch: Mapping[tuple[str, int], float],
    allow_waits: bool,
    duration_quantile: float | None,
) -> OpTemplate:
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
    """
    if site.plan is None:
        raise PlanError("the site has no production plan")
    if duration_quantile is not None and not 0.0 < duration_quantile < 1.0:
        raise PlanError(f"duration_quantile must lie in (0, 1), got {duration_quantile!r}")
    grain = Grain(grain_h)
    chosen = _select_orders(site, days, orders)
    if not chosen:
        raise PlanError("no orders to schedule" + (f" in the first {days:g} days" if days else ""))
    frozen = dict(frozen or {})
    all_orders = site.orders
    recipes_used: dict[str, str] = {}
    for i in chosen:
        rec = site.recipe_for(all_orders[i])
        recipes_used[rec.id] = rec.product
    # Horizon of the calendars.
    rel_max = 0.0
    due_max = 0.0
    for i in chosen:
        o = all_orders[i]
        if o.release is not None:
            rel_max = max(rel_max, site.to_hours(o.release))
        if o.due is not None:
            due_max = max(due_max, site.to_hours(o.due))
    cp_max = max(site.recipes[r].critical_path()[0] for r in recipes_used)
    if horizon_h is None:
        horizon_h = (
            max(site.plan.horizon, due_max, rel_max + 2.0 * cp_max, start_after_h + 2 * cp_max)
            + 60 * 24.0
            + 2.0 * cp_max
        )
    horizon = grain.up(horizon_h)

    # Skills and crews.
    skills_used: set[str] = set()
    for rid in recipes_used:
        for up in site.recipes[rid].unit_procedures.values():
            for ph in up.phases():
                skills_used.update(lab.skill for lab in ph.labour)
    for fzo in frozen.values():
        for seg in fzo.segments:
            skills_used.update(n.skill for n in seg[3])
    labour, per_skill = _labour_groups(site, skills_used, horizon_h, grain)
    stretch: dict[tuple[str, int], float] = {}
    for rid in recipes_used:
        for up in site.recipes[rid].unit_procedures.values():
            for ph in up.phases():
                for lab in ph.labour:
                    skey = (lab.skill, lab.count)
                    if skey not in stretch:
                        stretch[skey] = longest_stretch(
                            [(float(a), float(b), c) for a, b, c in per_skill[lab.skill]],
                            lab.count,
                        )

    # Unit groups: same class, same calendar.
    maint = maintenance_intervals(site, grain.h(horizon))
    down_by_unit: dict[str, list[tuple[float, float]]] = {}
    for unit, a, b, _reason in downtime:
        if unit not in site.units:
            raise PlanError(f"unknown unit {unit!r} in the downtime")
        down_by_unit.setdefault(unit, []).append((a, b))
    classes_used = {
        up.equipment_class
        for rid in recipes_used
        for up in site.recipes[rid].unit_procedures.values()
    }
    products_by_class: dict[str, set[str]] = {}
    for rid, prod in recipes_used.items():
        for up in site.recipes[rid].unit_procedures.values():
            products_by_class.setdefault(up.equipment_class, set()).add(prod)
    changeovers: dict[tuple[str, str, str], int] = {}
    for cls_id, prods in products_by_class.items():
        for pa in prods:
            for pb in prods:
                if pa != pb:
                    h = changeover_hours(site.changeovers, cls_id, pa, pb)
                    if h > 0:
                        changeovers[(cls_id, pa, pb)] = grain.up(h)
    groups: list[UnitGroup] = []
    groups_of_class: dict[str, list[int]] = {}
    unit_group: dict[str, int] = {}
    for cls_id in sorted(classes_used):
        units = site.units_of_class(cls_id)
        by_key: dict[tuple[tuple[int, int], ...], list[str]] = {}
        for u in units:
            spans = [*maint.get(u.id, []), *down_by_unit.get(u.id, [])]
            cal_key = tuple(sorted((grain.down(a), grain.up(b)) for a, b in spans))
            by_key.setdefault(cal_key, []).append(u.id)
        for cal_key, ids in by_key.items():
            g = UnitGroup(len(groups), cls_id, tuple(ids), _merge_int(cal_key))
            groups.append(g)
            groups_of_class.setdefault(cls_id, []).append(g.idx)
            for uid in ids:
                unit_group[uid] = g.idx

    # Batches and operations.
    templates: dict[tuple[str, str], OpTemplate] = {}
    ops: list[Op] = []
    batches: list[BatchInfo] = []
    order_infos: list[OrderInfo] = []
    start_after = grain.up(start_after_h) if start_after_h > 0 else 0
    for oi in chosen:
        o = all_orders[oi]
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
        for k in range(site.batches_for(o)):
            batch = BatchInfo(len(batches), f"{o.id}-B{k + 1:02d}", info.idx, rec.product, rec.id)
            batches.append(batch)
            info.batches.append(batch.idx)
            local: dict[str, int] = {}
            for pid in topo:
                up = rec.unit_procedures[pid]
                tkey = (rec.id, pid)
                if tkey not in templates:
                    templates[tkey] = _template(
                        site, rec.id, pid, grain, stretch, allow_waits, duration_quantile
                    )
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
                fz = frozen.pop((batch.id, pid)) if (batch.id, pid) in frozen else None
                if fz is not None:
                    if fz.unit not in unit_group:
                        raise PlanError(
                            f"frozen operation {batch.id}/{pid}: unknown unit {fz.unit!r}"
                        )
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
    if frozen:
        first = next(iter(frozen))
        raise PlanError(f"frozen operation {first[0]}/{first[1]} is not in the plan")

    # Changeover modes.
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
    # A frozen operation paused by a breakdown spans the outage on its (single) unit:
    # the unit is taken by it there, so the outage is no separate block.
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
