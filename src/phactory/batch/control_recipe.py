"""From a master recipe to the control recipe of one batch (ISA-88 §5.1.4).

A control recipe is a copy of a master recipe made for one batch: the formula scaled to
the batch size, the parameters bound (setpoints, possibly overridden within their
limits), a duration drawn for each phase, and for each unit procedure the units of its
class that may run it (``candidates``). It is stored with the batch, so execution never
needs the site file again.

Units: the batch engine allocates a unit to each unit procedure when the procedure
starts (ISA-88 dynamic allocation; :mod:`phactory.batch.allocation`), so a recipe made
for the engine leaves ``unit`` empty (``allocate=`` :func:`allocate_at_start`).
:func:`allocate_units` chooses all units at once instead (previews, plans, tests).

Scaling: material quantities are multiplied by ``batch size / recipe batch size``;
durations and process parameters are not scaled (ISA-88 scales the formula only).

Automatic or manual phase: a phase is **manual** (an electronic work instruction for
people) when it needs people for the whole phase, i.e. it has a labour requirement with
``scope: phase``; it is **automatic** (run by a phase driver on the unit) otherwise,
including phases whose people are only needed for a set-up (``scope: setup``), and any
phase naming a ``process_model``. A manual phase is **critical**, and needs a verifier
who is not the performer, when one of its parameters is critical (CPP) or it needs two
or more people (a second-person check) (EU GMP Annex 11 §6; 21 CFR 211.101(d)).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from phactory.errors import ConflictError

if TYPE_CHECKING:
    from phactory.model import MasterRecipe, Measure, Order, Phase, Site
    from phactory.model.procedural import MaterialFlow

__all__ = [
    "AllocationError",
    "BoundParameter",
    "ControlOperation",
    "ControlPhase",
    "ControlRecipe",
    "ControlUnitProcedure",
    "HoldLink",
    "MaterialRequirement",
    "allocate_at_start",
    "allocate_units",
    "build_control_recipe",
    "phase_kind",
]


class AllocationError(ConflictError):
    """No free unit of an equipment class for a unit procedure."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BoundParameter(_Frozen):
    """A process parameter bound for the batch, in the unit of its setpoint."""

    name: str
    setpoint: float | None
    low: float | None
    high: float | None
    unit: str
    critical: bool = False

    @property
    def target(self) -> float:
        """The value aimed at: the setpoint, else the middle of the limits, else a limit."""
        if self.setpoint is not None:
            return self.setpoint
        if self.low is not None and self.high is not None:
            return (self.low + self.high) / 2.0
        if self.low is not None:
            return self.low * 1.05 if self.low > 0 else self.low + 1.0
        assert self.high is not None
        return self.high * 0.95 if self.high > 0 else self.high - 1.0

    def in_limits(self, value: float) -> bool:
        """Whether ``value`` lies within ``[low, high]``."""
        return not (
            (self.low is not None and value < self.low)
            or (self.high is not None and value > self.high)
        )


class MaterialRequirement(_Frozen):
    """A material consumed or produced by a phase, scaled to the batch."""

    material: str
    quantity: float
    unit: str
    kind: str = "raw"


class ControlPhase(_Frozen):
    """A phase of the control recipe; ``path`` is ``unit_procedure/operation/phase``."""

    path: str
    unit_procedure: str
    operation: str
    phase: str
    name: str = ""
    kind: Literal["automatic", "manual"]
    duration_h: float = Field(ge=0)
    #: The unit it runs on ("" until its unit procedure is allocated one).
    unit: str = ""
    parameters: tuple[BoundParameter, ...] = ()
    inputs: tuple[MaterialRequirement, ...] = ()
    outputs: tuple[MaterialRequirement, ...] = ()
    skills: tuple[str, ...] = ()
    people: int = 0
    critical: bool = False
    continuous: bool = False

    def parameter(self, name: str) -> BoundParameter:
        """One bound parameter by name."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"phase {self.path} has no parameter {name!r}")


class ControlOperation(_Frozen):
    """An operation: phases run in sequence."""

    id: str
    name: str = ""
    phases: tuple[ControlPhase, ...]


class HoldLink(_Frozen):
    """Precedence with time lags from another unit procedure [h of recipe time]."""

    procedure: str
    min_lag_h: float = 0.0
    max_lag_h: float | None = None
    on_breach: Literal["deviation", "scrap"] = "deviation"


class ControlUnitProcedure(_Frozen):
    """A unit procedure: its class, the units that may run it, the unit allocated."""

    id: str
    name: str = ""
    equipment_class: str
    #: The unit allocated ("" until the procedure starts; see the module docstring).
    unit: str = ""
    #: The units of the class in the site when the batch was made.
    candidates: tuple[str, ...] = ()
    after: tuple[HoldLink, ...] = ()
    operations: tuple[ControlOperation, ...]


class ControlRecipe(_Frozen):
    """The control recipe of one batch: procedure > unit procedure > operation > phase.

    Unit procedures are listed in an order that respects every link; the engine runs
    them one after the other in that order.
    """

    batch_id: str
    site_id: str
    recipe_id: str
    recipe_version: str
    product: str
    order_id: str | None = None
    patient: str | None = None
    batch_size: float | None = None
    batch_size_unit: str = ""
    scale: float = 1.0
    seed: int = 0
    unit_procedures: tuple[ControlUnitProcedure, ...]

    def phases(self) -> list[ControlPhase]:
        """Every phase in execution order."""
        return [ph for up in self.unit_procedures for op in up.operations for ph in op.phases]

    def phase(self, path: str) -> ControlPhase:
        """One phase by path."""
        for ph in self.phases():
            if ph.path == path:
                return ph
        raise KeyError(f"batch {self.batch_id} has no step {path!r}")

    def unit_procedure(self, up_id: str) -> ControlUnitProcedure:
        """One unit procedure by id."""
        for up in self.unit_procedures:
            if up.id == up_id:
                return up
        raise KeyError(f"batch {self.batch_id} has no unit procedure {up_id!r}")

    @property
    def units(self) -> list[str]:
        """Units allocated to the batch (so far)."""
        return list(dict.fromkeys(up.unit for up in self.unit_procedures if up.unit))

    def with_units(self, units: Mapping[str, str]) -> ControlRecipe:
        """The recipe with the units allocated to unit procedures (``{up id: unit}``)."""
        if not units:
            return self
        ups = []
        for up in self.unit_procedures:
            unit = units.get(up.id)
            if not unit or unit == up.unit:
                ups.append(up)
                continue
            ops = tuple(
                op.model_copy(
                    update={
                        "phases": tuple(ph.model_copy(update={"unit": unit}) for ph in op.phases)
                    }
                )
                for op in up.operations
            )
            ups.append(up.model_copy(update={"unit": unit, "operations": ops}))
        return self.model_copy(update={"unit_procedures": tuple(ups)})


def phase_kind(phase: Phase) -> Literal["automatic", "manual"]:
    """``manual`` if the phase needs people for its whole duration, else ``automatic``."""
    if phase.process_model is not None:
        return "automatic"
    return "manual" if any(lab.scope == "phase" for lab in phase.labour) else "automatic"


def allocate_at_start(site: Site, recipe: MasterRecipe) -> dict[str, str]:
    """No unit now: the engine allocates each when its unit procedure starts."""
    return {}


def allocate_units(site: Site, recipe: MasterRecipe, busy: Iterable[str] = ()) -> dict[str, str]:
    """Choose a unit of the right class for each unit procedure.

    Units in ``busy`` (held by other active batches) are skipped; within the batch a
    different unit is preferred for each unit procedure, and reused if there is none.

    Raises
    ------
    AllocationError
        If a class has no free unit.
    """
    taken = set(busy)
    mine: list[str] = []
    out: dict[str, str] = {}
    for up_id in recipe.topological_order():
        up = recipe.unit_procedures[up_id]
        candidates = [u.id for u in site.units_of_class(up.equipment_class) if u.id not in taken]
        if not candidates:
            raise AllocationError(
                f"no free unit of class {up.equipment_class!r} for unit procedure {up_id!r}"
            )
        fresh = [u for u in candidates if u not in mine]
        unit = fresh[0] if fresh else candidates[0]
        out[up_id] = unit
        mine.append(unit)
    return out


def _bind(name: str, phase: Phase, path: str, overrides: Mapping[str, float]) -> BoundParameter:
    p = phase.parameters[name]
    unit = p.unit

    def conv(m: Measure | None) -> float | None:
        return None if m is None else float(m.to(unit))

    low, sp, high = conv(p.low), conv(p.setpoint), conv(p.high)
    value = overrides.get(f"{path}/{name}", overrides.get(name))
    if value is not None:
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(
                f"setpoint {value:g} {unit} for {path}/{name} lies outside [{low}, {high}]"
            )
        sp = float(value)
    return BoundParameter(
        name=name, setpoint=sp, low=low, high=high, unit=unit, critical=p.critical
    )


def build_control_recipe(
    site: Site,
    recipe_id: str,
    batch_id: str,
    *,
    order: Order | None = None,
    batch_size: float | None = None,
    parameters: Mapping[str, float] | None = None,
    seed: int = 0,
    allocate: Callable[[Site, MasterRecipe], dict[str, str]] | None = None,
) -> ControlRecipe:
    """Make the control recipe of one batch.

    Parameters
    ----------
    site
        The site (equipment, materials, recipes).
    recipe_id
        The master recipe; it must be ``approved``.
    batch_id
        The batch.
    order
        The order the batch is for (its patient id for autologous products).
    batch_size
        In the recipe's batch-size unit; default the recipe's batch size.
    parameters
        Setpoint overrides by ``name`` or ``path/name``, within the limits.
    seed
        Seeds the phase durations drawn from distributions and the simulated process.
    allocate
        Unit allocation; default :func:`allocate_units` with no busy units;
        :func:`allocate_at_start` leaves the units to the engine.

    Raises
    ------
    ValueError
        If the recipe is not approved, the batch size or a setpoint is invalid.
    AllocationError
        If a unit cannot be allocated.
    """
    recipe = site.recipes[recipe_id]
    if recipe.status != "approved":
        raise ValueError(f"recipe {recipe_id} is {recipe.status}: only approved recipes run")
    base = recipe.batch_size.value if recipe.batch_size else None
    if batch_size is not None and batch_size <= 0:
        raise ValueError("batch size must be positive")
    scale = batch_size / base if (batch_size is not None and base) else 1.0
    overrides = dict(parameters or {})
    rng = np.random.default_rng(seed)
    units = (allocate or allocate_units)(site, recipe)
    product = site.products.get(recipe.product)
    patient = order.patient if order is not None else None
    if product is not None and product.autologous and patient is None:
        raise ValueError(f"product {recipe.product} is autologous: the batch needs a patient id")
    ups: list[ControlUnitProcedure] = []
    for up_id in recipe.topological_order():
        up = recipe.unit_procedures[up_id]
        ops = []
        for op in up.operations.values():
            phases = []
            for ph in op.phases.values():
                path = f"{up.id}/{op.id}/{ph.id}"
                bound = tuple(_bind(n, ph, path, overrides) for n in ph.parameters)
                people = sum(lab.count for lab in ph.labour if lab.scope == "phase")
                phases.append(
                    ControlPhase(
                        path=path,
                        unit_procedure=up.id,
                        operation=op.id,
                        phase=ph.id,
                        name=ph.name,
                        kind=phase_kind(ph),
                        duration_h=float(ph.duration.sample(rng)),
                        unit=units.get(up.id, ""),
                        parameters=bound,
                        inputs=tuple(_flows(site, ph.inputs, scale)),
                        outputs=tuple(_flows(site, ph.outputs, scale)),
                        skills=tuple(dict.fromkeys(lab.skill for lab in ph.labour)),
                        people=people,
                        critical=any(p.critical for p in bound) or people >= 2,
                        continuous=ph.continuous,
                    )
                )
            ops.append(ControlOperation(id=op.id, name=op.name, phases=tuple(phases)))
        ups.append(
            ControlUnitProcedure(
                id=up.id,
                name=up.name,
                equipment_class=up.equipment_class,
                unit=units.get(up.id, ""),
                candidates=tuple(u.id for u in site.units_of_class(up.equipment_class)),
                after=tuple(
                    HoldLink(
                        procedure=lk.procedure,
                        min_lag_h=lk.min_lag,
                        max_lag_h=lk.max_lag,
                        on_breach=lk.on_breach,
                    )
                    for lk in up.after
                ),
                operations=tuple(ops),
            )
        )
    return ControlRecipe(
        batch_id=batch_id,
        site_id=site.id,
        recipe_id=recipe.id,
        recipe_version=recipe.version,
        product=recipe.product,
        order_id=order.id if order is not None else None,
        patient=patient,
        batch_size=(batch_size if batch_size is not None else base),
        batch_size_unit=recipe.batch_size.unit if recipe.batch_size else "",
        scale=scale,
        seed=seed,
        unit_procedures=tuple(ups),
    )


def _flows(site: Site, flows: Iterable[MaterialFlow], scale: float) -> list[MaterialRequirement]:
    out = []
    for f in flows:
        mat = site.materials.get(f.material)
        unit = f.quantity.unit or (mat.unit if mat else "")
        out.append(
            MaterialRequirement(
                material=f.material,
                quantity=float(f.quantity.value) * scale,
                unit=unit,
                kind=mat.kind if mat else "raw",
            )
        )
    return out
