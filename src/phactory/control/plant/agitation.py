"""Agitator: a motor whose speed follows its command with a first-order lag.

``tau dN/dt = N_cmd - N`` with ``tau`` = 5 s (the acceleration of a variable-frequency
drive with its ramp and the impeller's inertia), integrated exactly over a step. The
shaft power is ``P = Np rho N^3 D^5`` with the power number of a Rushton turbine
(``Np`` = 5) and an impeller a third of the vessel diameter [1]_.

References
----------
.. [1] E. L. Paul, V. A. Atiemo-Obeng, S. M. Kresta (eds.), *Handbook of Industrial
   Mixing*, Wiley, 2004, §6 (power number of turbines).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from phactory.control.plant.channels import Channel, Value
from phactory.control.plant.equipment import WATER_RHO, Contents, EquipmentModel

__all__ = ["Agitator"]


class Agitator(EquipmentModel):
    """Agitator speed and power (see the module docstring).

    Parameters
    ----------
    capacity_l
        Vessel capacity [L]: the impeller is a third of the vessel diameter; the maximum
        speed keeps the tip speed at 2 m/s.
    tau_s
        Motor time constant [s].

    Attributes
    ----------
    health
        Fraction of the commanded speed the drive reaches [-] (fault
        ``pump_degradation`` on ``AGIT`` models a slipping drive).
    """

    feature = "agitation"

    def __init__(self, capacity_l: float, *, tau_s: float = 5.0) -> None:
        d_vessel = float((4.0 * max(capacity_l, 0.1) / 1000.0 / math.pi) ** (1.0 / 3.0))
        self.d_impeller = d_vessel / 3.0  # [m]
        self.max_rpm = min(2.0 / (math.pi * self.d_impeller) * 60.0, 600.0)
        self.tau_s = tau_s
        self.speed = 0.0  # [rpm]
        self.health = 1.0

    def channels(self) -> list[Channel]:
        f, top = self.feature, round(self.max_rpm * 1.1)
        return [
            Channel("ST", "in", "REAL", "rpm", 0.0, float(top), "agitator speed", f),
            Channel("JT", "in", "REAL", "kW", 0.0, self._power_kw(self.max_rpm) * 1.5,
                    "agitator shaft power", f),
            Channel("AGIT", "out", "REAL", "rpm", 0.0, float(round(self.max_rpm)),
                    "agitator speed command", f, 0.0),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        return 0.5 if name == "ST" else 0.0

    def power_kw(self, c: Contents) -> float:
        """Shaft power [kW] at the current speed (zero when the vessel is empty)."""
        return self._power_kw(self.speed) if c.volume_l > 0.0 else 0.0

    def _power_kw(self, rpm: float) -> float:
        n = rpm / 60.0
        return float(5.0 * WATER_RHO * 1000.0 * n**3 * self.d_impeller**5 / 1000.0)

    def truth(self, c: Contents) -> dict[str, Value]:
        return {"ST": self.speed, "JT": self.power_kw(c)}

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        cmd = min(max(float(out.get("AGIT", 0.0)), 0.0), self.max_rpm) * self.health
        self.speed = cmd + (self.speed - cmd) * math.exp(-dt / self.tau_s)
        c.agitation_rpm = self.speed
