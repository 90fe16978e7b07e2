"""Vial filling line: line speed, a vial counter and a checkweigher.

The line speed follows its command (a fraction of the nameplate rate) with a 30 s lag
(acceleration of the infeed and the nest handling); vials are counted as they are filled.
Each vial receives the fill volume set point times the dosing pump's health (fault
``pump_degradation`` on ``FILL_SP`` underfills); the checkweigher reports the fill volume
of the last vials with a precision of 0.01 mL (0.5 % of a 2 mL fill, the precision of
rotary-piston and peristaltic filling pumps [1]_).

References
----------
.. [1] ISO 8362-1:2018, Injection containers and accessories, Part 1 (vials); fill-volume
   precision of aseptic filling pumps from vendor data (0.5-1 % RSD).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from phactory.control.plant.channels import Channel, Pump, Value
from phactory.control.plant.equipment import Contents, EquipmentModel

__all__ = ["FillLine"]


class FillLine(EquipmentModel):
    """A filling line (see the module docstring).

    Parameters
    ----------
    max_rate
        Nameplate rate [vials/h].
    """

    feature = "fill"

    def __init__(self, max_rate: float = 24_000.0) -> None:
        self.max_rate = max_rate
        self.rate = 0.0  # [vials/h]
        self.count = 0
        self._fraction = 0.0
        self.fill_volume = 0.0  # [mL] mean of the last vials
        self.pump = Pump(1.0)  # health scales the volume dosed

    def channels(self) -> list[Channel]:
        f = self.feature
        return [
            Channel("RATE", "in", "REAL", "1/h", 0.0, self.max_rate * 1.1,
                    "line rate (vials per hour)", f),
            Channel("COUNT", "in", "UDINT", "", 0.0, None, "vials filled", f, 0),
            Channel("FILL_VOL", "in", "REAL", "mL", 0.0, 100.0,
                    "fill volume (checkweigher)", f),
            Channel("LINE", "out", "REAL", "%", 0.0, 100.0, "line speed command", f, 0.0),
            Channel("FILL_SP", "out", "REAL", "mL", 0.0, 100.0, "dosing volume set point", f,
                    0.0),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        return {"RATE": 20.0, "FILL_VOL": 0.01}.get(name, 0.0)

    def truth(self, c: Contents) -> dict[str, Value]:
        return {"RATE": self.rate, "COUNT": self.count, "FILL_VOL": self.fill_volume}

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        cmd = min(max(float(out.get("LINE", 0.0)), 0.0), 100.0) / 100.0 * self.max_rate
        rate0 = self.rate
        self.rate = cmd + (self.rate - cmd) * math.exp(-dt / 30.0)
        vials = 0.5 * (rate0 + self.rate) * dt / 3600.0 + self._fraction
        whole = int(vials)
        self._fraction = vials - whole
        if whole > 0:
            self.count += whole
            self.fill_volume = float(out.get("FILL_SP", 0.0)) * self.pump.health
