"""Clean-in-place supply: a recirculation loop with water or caustic, heated, and the
return conductivity that shows what is in it.

The CIP skid pumps water or caustic (1 % NaOH, about 50 mS/cm at 25 degC [1]_) through the
vessel and back. The return conductivity approaches that of the supply as a well-mixed
hold-up ``V_h`` (5 % of the vessel plus 50 L of lines) is displaced, ``tau = V_h / F``;
without flow it stays. The supply heater brings the return temperature towards
``20 + 70 u/100`` degC with a 5 min lag while solution circulates, and the loop cools
towards ambient with a 30 min lag when it does not.

References
----------
.. [1] Y. Chisti, M. Moo-Young, "Clean-in-place systems for industrial bioreactors:
   design, validation and operation", J. Ind. Microbiol. 13 (1994) 201-207.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from phactory.control.plant.channels import Channel, Pump, Value, Valve
from phactory.control.plant.equipment import AMBIENT_C, Contents, EquipmentModel

__all__ = ["CIPSupply"]

CAUSTIC_MS_CM = 50.0
WATER_MS_CM = 0.002


class CIPSupply(EquipmentModel):
    """CIP recirculation loop (see the module docstring).

    Parameters
    ----------
    capacity_l
        Capacity of the vessel cleaned [L]; the pump circulates 1.5 vessel volumes per
        hour, at least 50 L/min.
    """

    feature = "cip"

    def __init__(self, capacity_l: float) -> None:
        self.holdup_l = 0.05 * capacity_l + 50.0
        self.pump = Pump(max(capacity_l * 1.5 / 60.0, 50.0))  # [L/min]
        self.valve = Valve()  # caustic (open) or water (closed)
        self.flow = 0.0
        self.conductivity = WATER_MS_CM
        self.temperature = AMBIENT_C

    def channels(self) -> list[Channel]:
        f, fmax = self.feature, self.pump.max_flow * 1.2
        return [
            Channel("FT_CIP", "in", "REAL", "L/min", 0.0, fmax, "CIP supply flow", f),
            Channel("TT_CIP", "in", "REAL", "degC", 0.0, 100.0, "CIP return temperature", f),
            Channel("CT", "in", "REAL", "mS/cm", 0.0, 100.0, "CIP return conductivity", f),
            Channel("CIP_PUMP", "out", "REAL", "%", 0.0, 100.0, "CIP supply pump speed", f,
                    0.0),
            Channel("CIP_HEAT", "out", "REAL", "%", 0.0, 100.0, "CIP supply heater output", f,
                    0.0),
            Channel("XV_CAUSTIC", "out", "BOOL", "", None, None,
                    "supply caustic (else water)", f, False),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        # CT: 5 uS/cm. A rinse ends when the return stays below 0.1 mS/cm for a minute,
        # i.e. for 600 scans at 100 ms; 0.05 mS/cm of noise (2 sigma) never allowed it.
        return {"FT_CIP": 0.5, "TT_CIP": 0.1, "CT": 0.005}.get(name, 0.0)

    def truth(self, c: Contents) -> dict[str, Value]:
        return {"FT_CIP": self.flow, "TT_CIP": self.temperature, "CT": self.conductivity}

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        self.valve.command(bool(out.get("XV_CAUSTIC", False)))
        self.flow = self.pump.flow(float(out.get("CIP_PUMP", 0.0)))
        heat = min(max(float(out.get("CIP_HEAT", 0.0)), 0.0), 100.0)
        if self.flow > 0.0:
            supply = CAUSTIC_MS_CM if self.valve.position else WATER_MS_CM
            tau = self.holdup_l / self.flow * 60.0  # [s]
            self.conductivity = supply + (self.conductivity - supply) * math.exp(-dt / tau)
            target = AMBIENT_C + 70.0 * heat / 100.0
            self.temperature = target + (self.temperature - target) * math.exp(-dt / 300.0)
        else:
            self.temperature = AMBIENT_C + (self.temperature - AMBIENT_C) * math.exp(-dt / 1800.0)
