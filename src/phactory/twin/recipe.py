"""Recipes compiled for the event loop: flat, index-based specs of procedures and phases.

The domain model is a tree of immutable pydantic objects keyed by id, which is right for
authors and validation. The event loop wants plain attributes and tuples it can walk
without dictionary look-ups: this module turns each master recipe into a
:class:`RecipeSpec` of :class:`ProcSpec` in topological order, each holding its
:class:`PhaseSpec` list, its precedence links with lags, and numbers derived once
(mean duration, whether it claims its unit ahead, expected preparation time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phactory.model import MasterRecipe, Phase, Site
from phactory.model.procedural import changeover_hours

__all__ = [
    "LabourNeed",
    "LinkSpec",
    "PhaseSpec",
    "ProcSpec",
    "RecipeSpec",
    "break_gate_cycles",
    "changeover_hours",
    "compile_recipe",
]


# The specs below are plain classes with ``__slots__`` rather than dataclasses: the
# compiled twin (see ``phactory.twin._compiled``) turns them into extension types with C
# fields through ``recipe.pxd``, which a dataclass's generated methods would not allow.


class LabourNeed:
    """``count`` people of skill number ``skill``; ``setup_h`` None means the whole phase."""

    __slots__ = ("count", "setup_h", "skill", "skill_id")

    def __init__(self, skill: int, skill_id: str, count: int, setup_h: float | None) -> None:
        self.skill = skill
        self.skill_id = skill_id
        self.count = count
        self.setup_h = setup_h


class LinkSpec:
    """Precedence ``pred -> succ`` with lags [h] measured end of pred to start of succ."""

    __slots__ = ("max_lag", "min_lag", "pred", "scrap", "succ")

    def __init__(
        self, pred: int, succ: int, min_lag: float, max_lag: float | None, scrap: bool
    ) -> None:
        self.pred = pred
        self.succ = succ
        self.min_lag = min_lag
        self.max_lag = max_lag
        self.scrap = scrap


class PhaseSpec:
    """A phase as the event loop needs it; ``index`` counts phases across the recipe."""

    __slots__ = (
        "continuous",
        "draws",
        "failure_probability",
        "id",
        "index",
        "mask",
        "mean_h",
        "model",
        "modelled",
        "names",
        "needs",
    )

    def __init__(
        self,
        *,
        id: str,
        index: int,
        model: Phase,
        mean_h: float,
        needs: tuple[LabourNeed, ...],
        continuous: bool,
        failure_probability: float,
        draws: tuple[tuple[int, float], ...],
        names: tuple[str, str],
        mask: int = 0,
    ) -> None:
        self.id = id
        self.index = index
        self.model = model
        self.mean_h = mean_h
        self.needs = needs
        self.continuous = continuous
        self.failure_probability = failure_probability
        self.draws = draws
        self.names = names
        self.mask = mask
        #: whether a process model computes the phase's CQAs (``model.process_model``)
        self.modelled = model.process_model is not None


class ProcSpec:
    """A unit procedure: class, links, phases and derived numbers.

    ``lead_h`` is the worst-case time to prepare a unit for this procedure [h]: cleaning
    (if a clean hold may run out) plus the longest changeover into the recipe's product.
    """

    __slots__ = (
        "claim_ahead",
        "equipment_class",
        "gates",
        "id",
        "index",
        "lead_h",
        "mean_h",
        "n_preds",
        "phases",
        "preds",
        "pulled",
        "pulls",
        "pushers",
        "pushes",
        "succs",
    )

    def __init__(
        self,
        *,
        id: str,
        index: int,
        equipment_class: str,
        phases: tuple[PhaseSpec, ...],
        mean_h: float,
        claim_ahead: bool = False,
        lead_h: float = 0.0,
    ) -> None:
        self.id = id
        self.index = index
        self.equipment_class = equipment_class
        self.phases = phases
        self.mean_h = mean_h
        self.claim_ahead = claim_ahead
        self.lead_h = lead_h
        # Set once all procedures are known (links, gates, pulls).
        self.preds: tuple[LinkSpec, ...] = ()
        self.succs: tuple[LinkSpec, ...] = ()
        self.gates: tuple[int, ...] = ()
        self.n_preds = 0
        self.pulled = False
        self.pushers = 0
        self.pulls: tuple[tuple[int, float], ...] = ()
        self.pushes = False


@dataclass(slots=True)
class RecipeSpec:
    """A master recipe in topological order; ``roots`` have no predecessor."""

    id: str
    product: str
    batch_size: float
    procs: tuple[ProcSpec, ...]
    roots: tuple[int, ...]
    n_phases: int
    by_id: dict[str, int] = field(default_factory=dict)


def _mask(needs: tuple[LabourNeed, ...], skill_masks: list[int]) -> int:
    m = 0
    for n in needs:
        m |= skill_masks[n.skill]
    return m


def _gates(procs: list[ProcSpec]) -> None:
    """Which successors a procedure secures before it claims its own unit.

    A link with a maximum lag and ``on_breach: scrap`` carries an intermediate that
    cannot wait (live cells, an open sterile bulk). Its source procedure therefore
    starts only once the destination unit is claimed and prepared. Units are then
    claimed downstream first; a gate is left out where the destination chain uses the
    source's own class, since claiming it first could deadlock a one-unit class.
    """
    chain: dict[int, set[str]] = {}
    for p in reversed(procs):
        classes: set[str] = set()
        gates = []
        for lk in p.succs:
            if not lk.scrap or lk.max_lag is None:
                continue
            s = procs[lk.succ]
            downstream = {s.equipment_class} | chain[s.index]
            if p.equipment_class in downstream:
                continue
            gates.append(s.index)
            classes |= downstream
        chain[p.index] = classes
        p.gates = tuple(gates)


def _pulls(procs: list[ProcSpec]) -> None:
    """Which side branches start just in time rather than at batch release.

    A procedure without predecessors whose outputs all have a hold-time limit (media or
    buffer preparation feeding a later step) would, if started at release, often age
    past that limit while the main line is still running. It is *pulled* instead: it
    starts once every other predecessor of its successors has started, timed to finish
    shortly before the successor is expected to be ready.
    """
    candidates = {
        p.index
        for p in procs
        if not p.preds and p.succs and all(lk.max_lag is not None for lk in p.succs)
    }
    for p in procs:
        if p.index not in candidates:
            continue
        p.pulled = all(
            any(lk.pred not in candidates for lk in procs[s.succ].preds) for s in p.succs
        )
    for s in procs:
        pulls = tuple(
            (lk.pred, float(lk.max_lag))
            for lk in s.preds
            if procs[lk.pred].pulled and lk.max_lag is not None
        )
        s.pulls = pulls
        s.pushers = len(s.preds) - len(pulls)
    for p in procs:
        p.pushes = any(procs[lk.succ].pulls for lk in p.succs)


def break_gate_cycles(recipes: list[RecipeSpec]) -> None:
    """Drop gates that could deadlock across recipes.

    Gating claims the destination's class before the source's. Recipe 1 gating class X
    to Y and recipe 2 gating Y to X could each hold all units one of them needs, so a
    gate is kept only if, over all recipes of the run, its destination class cannot
    reach its source class through other gates.
    """
    edges: dict[str, set[str]] = {}
    for r in recipes:
        for p in r.procs:
            for si in p.gates:
                edges.setdefault(p.equipment_class, set()).add(r.procs[si].equipment_class)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    for r in recipes:
        for p in r.procs:
            if p.gates:
                p.gates = tuple(
                    si
                    for si in p.gates
                    if not reaches(r.procs[si].equipment_class, p.equipment_class)
                )


def compile_recipe(
    site: Site,
    recipe: MasterRecipe,
    skill_index: dict[str, int],
    utility_index: dict[str, int],
    skill_masks: list[int],
) -> RecipeSpec:
    """Compile ``recipe`` for one run; classes and skills must already be validated.

    ``skill_masks[i]`` is the bit mask of the teams holding skill ``i``.
    """
    order = recipe.topological_order()
    pos = {k: i for i, k in enumerate(order)}
    products = list(site.products)
    procs: list[ProcSpec] = []
    n_phases = 0
    for i, key in enumerate(order):
        up = recipe.unit_procedures[key]
        phases = []
        for ph in up.phases():
            needs = tuple(
                LabourNeed(
                    skill_index[lab.skill],
                    lab.skill,
                    lab.count,
                    lab.setup if lab.scope == "setup" else None,
                )
                for lab in ph.labour
            )
            draws = tuple(
                (utility_index[name], float(getattr(ph.utilities, name)))
                for name in ("wfi", "steam")
                if name in utility_index and getattr(ph.utilities, name) > 0.0
            )
            phases.append(
                PhaseSpec(
                    id=ph.id,
                    index=n_phases,
                    model=ph,
                    mean_h=ph.duration.mean,
                    needs=needs,
                    continuous=ph.continuous,
                    failure_probability=ph.failure_probability,
                    draws=draws,
                    names=(up.id, ph.id),
                    mask=_mask(needs, skill_masks),
                )
            )
            n_phases += 1
        cls = site.equipment_classes[up.equipment_class]
        change = max(
            (changeover_hours(site.changeovers, cls.id, p, recipe.product) for p in products),
            default=0.0,
        )
        # A unit cleaned after every batch needs cleaning before one only if its clean
        # hold can run out (or, in campaign mode, if it was left dirty).
        cleaning = cls.cleaning
        preclean = (
            cleaning.duration
            if cleaning.clean_hold is not None or not cleaning.after_each_batch
            else 0.0
        )
        procs.append(
            ProcSpec(
                id=up.id,
                index=i,
                equipment_class=up.equipment_class,
                phases=tuple(phases),
                mean_h=sum(p.mean_h for p in phases),
                claim_ahead=any(link.max_lag is not None for link in up.after),
                lead_h=preclean + change,
            )
        )
    links: list[LinkSpec] = []
    for key in order:
        up = recipe.unit_procedures[key]
        for link in up.after:
            links.append(
                LinkSpec(
                    pos[link.procedure],
                    pos[key],
                    link.min_lag,
                    link.max_lag,
                    link.on_breach == "scrap",
                )
            )
    for p in procs:
        p.preds = tuple(lk for lk in links if lk.succ == p.index)
        p.succs = tuple(lk for lk in links if lk.pred == p.index)
        p.n_preds = len(p.preds)
    _gates(procs)
    _pulls(procs)
    size = recipe.batch_size.value if recipe.batch_size is not None else 1.0
    return RecipeSpec(
        id=recipe.id,
        product=recipe.product,
        batch_size=size,
        procs=tuple(procs),
        roots=tuple(p.index for p in procs if not p.preds),
        n_phases=n_phases,
        by_id={p.id: p.index for p in procs},
    )
