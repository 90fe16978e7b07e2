"""Freeze-dryer chamber: vacuum, nitrogen bleed, the two pressure gauges and the product
thermocouple.

The shelves are a :class:`~phactory.control.plant.thermal.JacketedVessel` whose "contents"
are the shelf stack (heated and cooled by silicone oil between -55 and +60 degC). The
chamber pressure ``P`` [mTorr] relaxes with a 15 s time constant towards the pressure at
which the vacuum pump removes what comes in: a leak of 5 mTorr, the nitrogen bleed (up to
500 mTorr at full opening) and the water vapour the condenser has not yet trapped, taken
as proportional to the sublimation rate (0.01 mTorr per g/h). With the vacuum pump off the
chamber vents to atmosphere (760 Torr) with a 30 s time constant.

Two gauges read it, as on production dryers [1]_: a capacitance manometer (absolute,
gas-independent, 1 Torr head) and a Pirani gauge calibrated for nitrogen, which reads
about 1.6 times too high in water vapour. During primary drying the Pirani therefore reads
above the manometer, and the two converge when sublimation ends: the usual end-point
signal of primary drying. The product thermocouple reads the product temperature the
process model computes (:class:`~phactory.control.plant.process.LyophilisationCoupling`),
or the shelf temperature when no drying runs.

References
----------
.. [1] S. M. Patel, T. Doen, M. J. Pikal, "Determination of end point of primary drying in
   freeze-drying process control", AAPS PharmSciTech 11 (2010) 73-84.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from phactory.control.plant.channels import Channel, Value
from phactory.control.plant.equipment import Contents, EquipmentModel

__all__ = ["ATMOSPHERE_MTORR", "Chamber"]

ATMOSPHERE_MTORR = 760_000.0
_LEAK_MTORR = 5.0
_N2_MAX_MTORR = 500.0
_VAPOUR_MTORR_PER_G_H = 0.01


class Chamber(EquipmentModel):
    """Freeze-dryer chamber pressure and probes (see the module docstring)."""

    feature = "chamber"

    def __init__(self) -> None:
        self.pressure = ATMOSPHERE_MTORR  # [mTorr]
        self.vapour_fraction = 0.0

    def channels(self) -> list[Channel]:
        f = self.feature
        return [
            Channel("PT_CM", "in", "REAL", "mTorr", 0.0, 1000.0,
                    "chamber pressure (capacitance manometer)", f),
            Channel("PT_PIR", "in", "REAL", "mTorr", 0.0, ATMOSPHERE_MTORR,
                    "chamber pressure (Pirani, N2 calibrated)", f),
            Channel("TT_PROD", "in", "REAL", "degC", -80.0, 60.0,
                    "product temperature (thermocouple, vial bottom)", f),
            Channel("VAC", "out", "BOOL", "", None, None, "vacuum pump on", f, False),
            Channel("N2", "out", "REAL", "%", 0.0, 100.0, "nitrogen bleed valve opening", f,
                    0.0),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        return {"PT_CM": 0.1, "PT_PIR": 0.3, "TT_PROD": 0.2}.get(name, 0.0)

    def truth(self, c: Contents) -> dict[str, Value]:
        product = (
            c.product_temperature_c if c.product_temperature_c is not None else c.temperature_c
        )
        return {
            "PT_CM": self.pressure,
            "PT_PIR": self.pressure * (1.0 + 0.6 * self.vapour_fraction),
            "TT_PROD": product,
        }

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        if bool(out.get("VAC", False)):
            vapour = _VAPOUR_MTORR_PER_G_H * max(c.sublimation_g_h, 0.0)
            bleed = _N2_MAX_MTORR * min(max(float(out.get("N2", 0.0)), 0.0), 100.0) / 100.0
            target = _LEAK_MTORR + bleed + vapour
            tau = 15.0
            self.vapour_fraction = vapour / target
        else:
            target, tau = ATMOSPHERE_MTORR, 30.0
            self.vapour_fraction = 0.0
        self.pressure = target + (self.pressure - target) * math.exp(-dt / tau)
