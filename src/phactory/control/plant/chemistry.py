"""pH with acid/base dosing, and dissolved oxygen with gas sparging.

pH (:class:`PHProbe`)
---------------------
A buffered medium with a constant buffer capacity ``beta`` [mmol/(L pH)] (bicarbonate /
HEPES media, about 15 mmol/(L pH) near neutral [1]_): base dosing raises and acid (or CO2)
dosing lowers the pH in proportion to the amount added, and the process's own acid (the
lactate of a cell culture) lowers it:

.. math::  \\frac{dpH}{dt} = \\frac{r_b u_b - r_a u_a}{100} - \\frac{r_{acid}}{\\beta}

with the dosing pumps able to move the pH by ``r`` = 2 pH/h at full speed. The pH
electrode answers with a first-order lag of 20 s. Without dosing pumps (a unit whose pH is
set by its process model, such as IVT) the probe only measures.

Dissolved oxygen (:class:`OxygenTransfer`)
-----------------------------------------
Gas-liquid transfer with a volumetric coefficient ``kLa`` and the oxygen uptake of the
cells (OUR) [2]_, in % of air saturation:

.. math::  \\frac{dDO}{dt} = k_La \\left(\\frac{y_{O_2}}{0.21} 100 - DO\\right)
    - \\frac{OUR}{C^*_{air}} 100

The controller sets the oxygen fraction ``y_O2`` of the sparge gas (0 % = nitrogen, 21 % =
air, 100 % = oxygen; a gas mix station); ``kLa`` = 12 1/h at the nominal agitation,
scaling with ``(N/N_max)^0.7`` (never below a third of it: the sparger alone), and
``C*_air`` = 0.21 mmol/L at 37 degC. The polarographic probe lags by 30 s.

References
----------
.. [1] R. Pörtner (ed.), *Animal Cell Biotechnology: Methods and Protocols*, 3rd ed.,
   Humana Press, 2014 (media buffering and pH control of CHO cultures).
.. [2] P. M. Doran, *Bioprocess Engineering Principles*, 2nd ed., Academic Press, 2013,
   §10.4-10.10 (oxygen transfer, kLa, oxygen uptake rate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from phactory.control.plant.channels import Channel, Pump, Value
from phactory.control.plant.equipment import Contents, EquipmentModel

__all__ = ["OxygenTransfer", "PHProbe"]

C_STAR_AIR = 0.21  # [mmol/L] oxygen solubility under air at 37 degC


def _lag(value: float, target: float, dt: float, tau: float) -> float:
    return target + (value - target) * math.exp(-dt / tau)


class PHProbe(EquipmentModel):
    """pH of the contents, its probe and (optionally) acid/base dosing.

    Parameters
    ----------
    dosing
        Whether the unit has acid and base dosing pumps.
    buffer
        Buffer capacity of the medium [mmol/(L pH)].
    rate_ph_h
        pH change per hour at full pump speed [pH/h].
    """

    feature = "ph"

    def __init__(self, *, dosing: bool, buffer: float = 15.0, rate_ph_h: float = 2.0) -> None:
        self.dosing = dosing
        self.buffer = buffer
        self.pumps = {"BASE": Pump(rate_ph_h), "ACID": Pump(rate_ph_h)}
        self.reading = 7.0
        self.started = False

    def channels(self) -> list[Channel]:
        f = self.feature
        chans = [Channel("PH", "in", "REAL", "", 0.0, 14.0, "pH", f)]
        if self.dosing:
            chans += [
                Channel("BASE", "out", "REAL", "%", 0.0, 100.0, "base dosing pump speed", f,
                        0.0),
                Channel("ACID", "out", "REAL", "%", 0.0, 100.0,
                        "acid / CO2 dosing (pump speed or valve)", f, 0.0),
            ]  # fmt: skip
        return chans

    def sigma(self, name: str) -> float:
        return 0.005

    def truth(self, c: Contents) -> dict[str, Value]:
        return {"PH": self.reading}

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        if self.dosing:
            up = self.pumps["BASE"].flow(float(out.get("BASE", 0.0)))
            down = self.pumps["ACID"].flow(float(out.get("ACID", 0.0)))
            rate = (up - down) / 3600.0 - c.acid_mmol_l_s / self.buffer  # [pH/s]
            c.ph = min(max(c.ph + rate * dt, 2.0), 12.0)
        if not self.started:
            self.reading, self.started = c.ph, True
        self.reading = _lag(self.reading, c.ph, dt, 20.0)


class OxygenTransfer(EquipmentModel):
    """Dissolved oxygen under sparging with a gas mix (see the module docstring).

    Parameters
    ----------
    kla_per_h
        Volumetric transfer coefficient at full agitation [1/h].
    max_rpm
        Agitator speed of the full ``kla_per_h`` [rpm] (0: no agitator, kLa fixed).
    """

    feature = "oxygen"

    def __init__(self, *, kla_per_h: float = 12.0, max_rpm: float = 0.0) -> None:
        self.kla_per_h = kla_per_h
        self.max_rpm = max_rpm
        self.reading = 100.0
        self.o2 = 21.0

    def channels(self) -> list[Channel]:
        f = self.feature
        return [
            Channel("DO", "in", "REAL", "%", 0.0, 500.0, "dissolved oxygen (of air saturation)",
                    f),
            Channel("O2", "out", "REAL", "%", 0.0, 100.0, "oxygen fraction of the sparge gas",
                    f, 21.0),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        return 0.3

    def truth(self, c: Contents) -> dict[str, Value]:
        return {"DO": self.reading}

    def kla(self, c: Contents) -> float:
        """Current kLa [1/s]."""
        if self.max_rpm <= 0.0:
            factor = 1.0
        else:
            factor = max((min(c.agitation_rpm, self.max_rpm) / self.max_rpm) ** 0.7, 1.0 / 3.0)
        return self.kla_per_h * factor / 3600.0

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        self.o2 = min(max(float(out.get("O2", 21.0)), 0.0), 100.0)
        k = self.kla(c)
        sat = self.o2 / 0.21  # equilibrium DO [% of air saturation]
        uptake = c.our_mmol_l_s / C_STAR_AIR * 100.0  # [%/s]
        # Exact for the linear ODE with constant coefficients over the step.
        target = sat - uptake / k
        c.do_pct = max(_lag(c.do_pct, target, dt, 1.0 / k), 0.0)
        self.reading = _lag(self.reading, c.do_pct, dt, 30.0)
