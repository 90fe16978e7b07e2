"""ISA-88 procedural model: master recipe > unit procedure > operation > phase.

A unit procedure runs on one unit of its equipment class; its operations run in
sequence on that unit, and the phases of an operation run in sequence. Unit procedures
are ordered by links (``after``) that may carry minimum and maximum time lags: a
maximum lag of zero is a no-wait transfer, a maximum lag of days is a hold-time limit
on the intermediate.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any, Final, Literal

from pydantic import BeforeValidator, Field, model_validator

from phactory.model.base import Id, Keyed, ModelBase
from phactory.model.distribution import DurationSpec
from phactory.model.measure import Measure
from phactory.model.quantity import Duration, Mass, Power, Volume

__all__ = [
    "CIP_PHASES",
    "SIP_PHASES",
    "ChangeoverRule",
    "LabourRequirement",
    "Link",
    "MasterRecipe",
    "MaterialFlow",
    "Operation",
    "Phase",
    "ProcessParameter",
    "UnitProcedure",
    "Utilities",
    "changeover_hours",
    "is_cleaning_phase",
]


class LabourRequirement(ModelBase):
    """People a phase needs: ``count`` of ``skill``.

    ``scope: phase`` holds them for the whole phase; ``scope: setup`` only for the first
    ``setup`` hours (e.g. inoculating a 14-day culture takes two operators for 2 h).
    """

    skill: Id
    count: int = Field(default=1, ge=1)
    scope: Literal["phase", "setup"] = "phase"
    setup: Duration | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _setup_needs_time(self) -> LabourRequirement:
        if self.scope == "setup" and self.setup is None:
            raise ValueError("scope 'setup' needs a 'setup' duration")
        return self


class Utilities(ModelBase):
    """Utilities a phase uses: electrical power while running, WFI and steam per phase."""

    power: Power = Field(default=0.0, ge=0, description="electrical draw while running [kW]")
    wfi: Volume = Field(default=0.0, ge=0, description="water for injection per phase [L]")
    steam: Mass = Field(default=0.0, ge=0, description="clean steam per phase [kg]")


class ProcessParameter(ModelBase):
    """A process parameter with its setpoint and acceptable range.

    Limits are converted to the setpoint's unit. ``critical: true`` marks a critical
    process parameter (CPP, ICH Q8(R2)); an excursion is then a deviation.
    """

    setpoint: Measure | None = None
    low: Measure | None = None
    high: Measure | None = None
    critical: bool = False

    @model_validator(mode="after")
    def _limits(self) -> ProcessParameter:
        ref = self.setpoint or self.low or self.high
        if ref is None:
            raise ValueError("a parameter needs a setpoint or a limit")
        values = {}
        for name in ("setpoint", "low", "high"):
            m = getattr(self, name)
            if m is None:
                continue
            if not m.compatible(ref.unit or "dimensionless"):
                raise ValueError(f"{name} '{m}' is not in a unit compatible with '{ref}'")
            values[name] = m.to(ref.unit or "dimensionless")
        lo, sp, hi = values.get("low"), values.get("setpoint"), values.get("high")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if sp is not None and ((lo is not None and sp < lo) or (hi is not None and sp > hi)):
            raise ValueError(f"setpoint {self.setpoint} lies outside [low, high]")
        return self

    @property
    def unit(self) -> str:
        """The unit the parameter is expressed in (that of the setpoint)."""
        ref = self.setpoint or self.low or self.high
        return ref.unit if ref else ""


class MaterialFlow(ModelBase):
    """A material consumed or produced by a phase, per batch."""

    material: Id
    quantity: Measure


class Phase(ModelBase):
    """The smallest procedural element: one action with a duration.

    ``continuous: true`` marks a phase that, once started, cannot be paused: its crew must
    stay for its whole duration, so it must fit into a staffed window.
    """

    id: Id
    name: str = ""
    duration: DurationSpec
    labour: tuple[LabourRequirement, ...] = ()
    utilities: Utilities = Field(default_factory=Utilities)
    parameters: dict[Id, ProcessParameter] = Field(default_factory=dict)
    inputs: tuple[MaterialFlow, ...] = ()
    outputs: tuple[MaterialFlow, ...] = ()
    continuous: bool = False
    failure_probability: float = Field(
        default=0.0, ge=0.0, le=1.0, description="chance the batch is lost in this phase"
    )
    process_model: str | None = Field(
        default=None, description="name of a phactory.process model run for this phase"
    )


class Operation(ModelBase):
    """A sequence of phases that together perform one major processing step."""

    id: Id
    name: str = ""
    phases: Keyed[Phase]

    @model_validator(mode="after")
    def _non_empty(self) -> Operation:
        if not self.phases:
            raise ValueError("an operation needs at least one phase")
        return self


def _link_shorthand(value: Any) -> Any:
    # `after: [seed]` is the common case; it stands for [{procedure: seed}].
    if isinstance(value, str):
        return [{"procedure": value}]
    if isinstance(value, list):
        return [{"procedure": v} if isinstance(v, str) else v for v in value]
    return value


class Link(ModelBase):
    """Precedence from another unit procedure of the same recipe, with time lags.

    The lag is measured from the end of ``procedure`` to the start of this one.
    ``max_lag`` bounds how long the intermediate may be held; ``on_breach`` says what a
    breach does: record a deviation, or scrap the batch.
    """

    procedure: Id
    min_lag: Duration = Field(default=0.0, ge=0)
    max_lag: Duration | None = Field(default=None, ge=0)
    on_breach: Literal["deviation", "scrap"] = "deviation"

    @model_validator(mode="after")
    def _ordered(self) -> Link:
        if self.max_lag is not None and self.max_lag < self.min_lag:
            raise ValueError("max_lag is below min_lag")
        return self


class UnitProcedure(ModelBase):
    """The part of a recipe that runs on one unit of ``equipment_class``."""

    id: Id
    name: str = ""
    equipment_class: Id
    after: Annotated[tuple[Link, ...], BeforeValidator(_link_shorthand)] = ()
    operations: Keyed[Operation]

    @model_validator(mode="after")
    def _non_empty(self) -> UnitProcedure:
        if not self.operations:
            raise ValueError("a unit procedure needs at least one operation")
        return self

    def phases(self) -> list[Phase]:
        """All phases in execution order."""
        return [ph for op in self.operations.values() for ph in op.phases.values()]

    @property
    def mean_duration(self) -> float:
        """Expected processing time on the unit, excluding cleaning [h]."""
        return sum(ph.duration.mean for ph in self.phases())


class MasterRecipe(ModelBase):
    """A versioned, approved master recipe for one product (ISA-88 master recipe)."""

    id: Id
    name: str = ""
    product: Id
    version: str = "1"
    status: Literal["draft", "approved", "obsolete"] = "draft"
    batch_size: Measure | None = None
    unit_procedures: Keyed[UnitProcedure]

    @model_validator(mode="after")
    def _non_empty(self) -> MasterRecipe:
        if not self.unit_procedures:
            raise ValueError("a recipe needs at least one unit procedure")
        return self

    def topological_order(self) -> list[str]:
        """Unit procedure ids in an order that respects every link (Kahn's algorithm).

        Procedures on a cycle or after an unknown procedure are left out, which is how
        :func:`phactory.model.checks.check_site` finds them.
        """
        indeg = {k: len(up.after) for k, up in self.unit_procedures.items()}
        for up in self.unit_procedures.values():
            for link in up.after:
                if link.procedure not in self.unit_procedures:
                    indeg[up.id] = -1  # never ready
        succ: dict[str, list[str]] = {k: [] for k in self.unit_procedures}
        for k, up in self.unit_procedures.items():
            for link in up.after:
                if link.procedure in succ:
                    succ[link.procedure].append(k)
        ready = [k for k, d in indeg.items() if d == 0]
        out: list[str] = []
        while ready:
            k = ready.pop(0)
            out.append(k)
            for s in succ[k]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    ready.append(s)
        return out

    def critical_path(self) -> tuple[float, list[str]]:
        """Longest path through the unit procedures with mean durations and min lags.

        Returns
        -------
        (float, list of str)
            The critical-path duration [h] and the unit procedures on it, in order.
        """
        finish: dict[str, float] = {}
        prev: dict[str, str | None] = {}
        for k in self.topological_order():
            up = self.unit_procedures[k]
            start, via = 0.0, None
            for link in up.after:
                t = finish.get(link.procedure, 0.0) + link.min_lag
                if via is None or t > start:
                    start, via = t, link.procedure
            finish[k] = start + up.mean_duration
            prev[k] = via
        if not finish:
            return 0.0, []
        end = max(finish, key=lambda k: finish[k])
        path: list[str] = []
        cur: str | None = end
        while cur is not None:
            path.append(cur)
            cur = prev[cur]
        return finish[end], path[::-1]


class ChangeoverRule(ModelBase):
    """Extra time to change a unit of ``equipment_class`` from one product to another.

    ``from``/``to`` name products, or ``"*"`` for any. It comes on top of the class's
    routine cleaning; the most specific matching rule wins.
    """

    equipment_class: Id | Literal["*"] = "*"
    from_product: Id | Literal["*"] = Field(default="*", alias="from")
    to_product: Id | Literal["*"] = Field(default="*", alias="to")
    duration: Duration = Field(ge=0)
    reason: str = ""


def changeover_hours(
    rules: tuple[ChangeoverRule, ...] | list[ChangeoverRule],
    equipment_class: str,
    from_product: str | None,
    to_product: str,
) -> float:
    """Changeover time [h] between two products on a class; 0 for the same product.

    The most specific matching rule wins, counting a named class, a named source and a
    named target product as one point each; among equally specific rules the first one
    written wins. A unit with no previous product (``None``) needs no changeover.
    """
    if from_product is None or from_product == to_product:
        return 0.0
    best: tuple[int, float] | None = None
    for rule in rules:
        if rule.equipment_class not in ("*", equipment_class):
            continue
        if rule.from_product not in ("*", from_product):
            continue
        if rule.to_product not in ("*", to_product):
            continue
        score = (
            (rule.equipment_class != "*") + (rule.from_product != "*") + (rule.to_product != "*")
        )
        if best is None or score > best[0]:
            best = (score, rule.duration)
    return best[1] if best else 0.0


#: Recipe phase ids (shell patterns, lower case) that clean equipment in place, and that
#: sterilise it: what the controllers run as CIP and SIP (:mod:`phactory.control.phases.
#: mapping`) and what counts as cleaning time (ISO 22400-2 AUST) in a live plant's event
#: log (:mod:`phactory.batch.plant_events`).
CIP_PHASES: Final[tuple[str, ...]] = ("cip", "clean*", "*-sanitise", "*-sanitize")
SIP_PHASES: Final[tuple[str, ...]] = ("sip", "steam*", "sterilise*", "sterilize*")


def is_cleaning_phase(phase_id: str) -> bool:
    """Whether recipe phase ``phase_id`` cleans or sterilises its unit (CIP or SIP)."""
    pid = phase_id.lower()
    return any(fnmatch.fnmatchcase(pid, p) for p in (*CIP_PHASES, *SIP_PHASES))
