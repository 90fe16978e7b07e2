"""ISA-88 physical model: site > area > process cell > unit > equipment module.

Units belong to an :class:`EquipmentClass`, which carries what the twin and the
scheduler need to know about every unit of that class: capabilities, capacity,
cleaning regime, reliability and energy draw. A unit may override reliability and
energy (e.g. an older skid that fails more often).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from phactory.model.base import Id, Keyed, ModelBase
from phactory.model.distribution import DurationSpec, Fixed
from phactory.model.measure import Measure
from phactory.model.quantity import Duration, Power

__all__ = [
    "Area",
    "Cleaning",
    "Energy",
    "EquipmentClass",
    "EquipmentModule",
    "ProcessCell",
    "Reliability",
    "Unit",
]


class Cleaning(ModelBase):
    """How a unit is made ready for the next batch.

    ``method`` is ``cip-sip`` / ``cip`` for stainless steel (clean-in-place, then
    steam-in-place), ``single-use`` for disposable assemblies changed out between
    batches, ``manual`` for clean-out-of-place, or ``none``. Hold limits follow the
    cleaning-validation practice of EU GMP Annex 15 §10: ``dirty_hold`` is the longest
    a used unit may wait before cleaning starts; ``clean_hold`` the longest a clean unit
    stays clean; past it, it must be cleaned again.
    """

    method: Literal["cip-sip", "cip", "single-use", "manual", "none"] = "none"
    cip: Duration = Field(default=0.0, ge=0)
    sip: Duration = Field(default=0.0, ge=0)
    changeout: Duration = Field(default=0.0, ge=0, description="single-use assembly change-out")
    clean_hold: Duration | None = Field(default=None, gt=0)
    dirty_hold: Duration | None = Field(default=None, gt=0)
    after_each_batch: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Cleaning:
        if self.method == "single-use" and self.changeout == 0.0:
            raise ValueError("single-use cleaning needs a 'changeout' duration")
        if self.method in ("cip", "cip-sip") and self.cip == 0.0:
            raise ValueError(f"{self.method} cleaning needs a 'cip' duration")
        if self.method == "cip-sip" and self.sip == 0.0:
            raise ValueError("cip-sip cleaning needs an 'sip' duration")
        return self

    @property
    def duration(self) -> float:
        """Time to turn the unit around after a batch [h]."""
        return self.cip + self.sip + self.changeout


class Reliability(ModelBase):
    """Time between failures and time to repair.

    ``mtbf`` is the mean operating time between failures [h]. With ``model: weibull`` the
    time to failure is Weibull with shape ``shape`` (beta > 1: wear-out) and scale
    eta = mtbf / Gamma(1 + 1/beta), so that its mean is ``mtbf`` [1]_.

    References
    ----------
    .. [1] P. D. T. O'Connor, A. Kleyner, *Practical Reliability Engineering*, 5th ed.,
       Wiley, 2012, §2.6.
    """

    mtbf: Duration = Field(gt=0)
    mttr: DurationSpec = Field(default_factory=lambda: Fixed(value="4 h"))
    model: Literal["exponential", "weibull"] = "exponential"
    shape: float = Field(default=1.0, gt=0)


class Energy(ModelBase):
    """Electrical draw of a unit when idle and when running [kW]."""

    idle: Power = Field(default=0.0, ge=0)
    running: Power = Field(default=0.0, ge=0)


class EquipmentClass(ModelBase):
    """A class of interchangeable units, e.g. ``bioreactor-2000L``."""

    id: Id
    name: str = ""
    capabilities: tuple[str, ...] = ()
    capacity: Measure | None = None
    cleaning: Cleaning = Field(default_factory=Cleaning)
    reliability: Reliability | None = None
    energy: Energy = Field(default_factory=Energy)


class EquipmentModule(ModelBase):
    """A functional group inside a unit (agitator, temperature control, a pump)."""

    id: Id
    name: str = ""
    function: str = ""


class Unit(ModelBase):
    """One piece of major equipment that holds one batch at a time (ISA-88 unit)."""

    id: Id
    equipment_class: Id = Field(alias="class")
    name: str = ""
    equipment_modules: Keyed[EquipmentModule] = Field(default_factory=dict)
    reliability: Reliability | None = None
    energy: Energy | None = None


class ProcessCell(ModelBase):
    """A group of units that together make batches (e.g. a downstream suite)."""

    id: Id
    name: str = ""
    units: Keyed[Unit] = Field(default_factory=dict)


class Area(ModelBase):
    """A physical or logical area of the site (upstream, downstream, fill-finish)."""

    id: Id
    name: str = ""
    process_cells: Keyed[ProcessCell] = Field(default_factory=dict)
