"""The scheduling problem of a site: operations, unit groups and crews on an integer grain.

The data the dispatch heuristic (:mod:`.heuristic`) and the CP-SAT model
(:mod:`.model_builder`) share; :func:`phactory.schedule.problem_builder.build_problem`
makes it from a site's plan, one section at a time (its module docstring lists the
modelling choices):

Operations
    One per unit procedure of each batch (an ISA-88 unit procedure runs on one unit of
    its equipment class). An operation is a chain of *pieces*: a fixed piece runs its
    phases back to back; a pause (the unit held, waiting for people) may come before a
    piece that starts with a phase whose crew is not on duty around the clock; a
    *chunked* piece is the labour portion of a pausable phase that is longer than any
    staffed stretch of its skill, worked in up to ``max_chunks`` stretches with the phase
    paused in between. Pauses are at most ``max_pause`` long.
Unit groups
    Units of a class with identical calendars, pooled: an operation chooses a group, a
    group is a cumulative resource of capacity = its number of units.
Changeovers
    Exact product sequences (``circuit``) on small single-unit groups, a reserved
    worst-case changeover (``pad``) elsewhere.
Crews
    Coupled skill sets with the headcount on duty of the teams holding them
    (:mod:`.crews`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from phactory.errors import InvalidError
from phactory.model import Site
from phactory.schedule.calendar import Grain

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
]

ChangeoverMode = Literal["none", "circuit", "pad"]


class PlanError(InvalidError):
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
