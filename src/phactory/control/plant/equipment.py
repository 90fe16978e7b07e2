"""The contract of an equipment model, and the contents of a unit that models share.

A unit of the virtual plant is composed of equipment models (jacket, tank, agitator,
probes, CIP supply, ...), each owning some I/O channels. They interact through the unit's
:class:`Contents` (what is in the vessel: its volume, temperature, pH, dissolved oxygen)
and are stepped in a fixed order by :class:`phactory.control.plant.unit.UnitPlant`, so a
step is deterministic.

Every model integrates its own states over a step ``dt`` [s] with a method that stays
stable for any ``dt`` (exact exponentials for first-order lags, backward Euler for the
coupled heat balance), because the simulated clock may take long steps over quiescent
stretches (:meth:`phactory.control.site.SitePlant.advance`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from phactory.control.plant.channels import Channel, Value

__all__ = ["AMBIENT_C", "WATER_CP", "WATER_RHO", "Contents", "EquipmentModel"]

#: Ambient temperature of the plant rooms [degC].
AMBIENT_C = 20.0
#: Density of aqueous process fluids [kg/L].
WATER_RHO = 1.0
#: Specific heat of aqueous process fluids [J/(kg K)].
WATER_CP = 4180.0


@dataclass
class Contents:
    """What is in a unit, shared by its equipment models.

    Attributes
    ----------
    capacity_l
        Nominal (working) capacity [L].
    volume_l
        Liquid volume [L].
    temperature_c
        Bulk temperature of the contents [degC].
    ph
        pH [-].
    do_pct
        Dissolved oxygen [% of air saturation].
    inflow_l_s
        Liquid flowing in during the current step [L/s] (set by the tank).
    inflow_temp_c
        Its temperature [degC].
    heat_w
        External heat into the contents during the current step [W] (steam, process).
    acid_mmol_l_s
        Acid produced by the process [mmol/(L s)] (lactate of a cell culture).
    our_mmol_l_s
        Oxygen uptake rate of the process [mmol/(L s)].
    agitation_rpm
        Agitator speed [rpm] (0 without an agitator).
    sublimation_g_h
        Water vapour leaving the product [g/h] (primary drying).
    product_temperature_c
        Temperature at the bottom of the product [degC] where a process model computes
        it, else ``None`` (the product follows the contents temperature).
    """

    capacity_l: float
    volume_l: float = 0.0
    temperature_c: float = AMBIENT_C
    ph: float = 7.0
    do_pct: float = 100.0
    inflow_l_s: float = 0.0
    inflow_temp_c: float = AMBIENT_C
    heat_w: float = 0.0
    acid_mmol_l_s: float = 0.0
    our_mmol_l_s: float = 0.0
    agitation_rpm: float = 0.0
    sublimation_g_h: float = 0.0
    product_temperature_c: float | None = None


class EquipmentModel(ABC):
    """One piece of equipment of a unit, with its channels and dynamics.

    Subclasses set :attr:`feature` and implement :meth:`channels`, :meth:`step` and
    :meth:`truth`; :meth:`sigma` gives each input's noise.
    """

    #: Name of the feature (``thermal``, ``tank``, ...), used to place and fault it.
    feature: str = ""

    @abstractmethod
    def channels(self) -> list[Channel]:
        """Every channel this model owns, inputs and outputs."""

    @abstractmethod
    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        """Advance the model by ``dt`` [s] with the controller's outputs ``out``."""

    @abstractmethod
    def truth(self, c: Contents) -> dict[str, Value]:
        """True values of this model's input channels (before sensor effects)."""

    def sigma(self, name: str) -> float:
        """Noise standard deviation of input ``name`` [its unit]; 0 for discrete inputs."""
        return 0.0
