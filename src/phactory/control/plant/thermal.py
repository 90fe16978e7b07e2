"""Jacket and contents temperature, and steam-in-place: lumped heat balances.

Jacketed vessel (:class:`JacketedVessel`)
-----------------------------------------
Two lumped heat capacities, the jacket (heat-transfer fluid and jacket wall, ``C_j``) and
the contents (liquid plus the vessel wall it wets, ``C``), coupled through the jacket's
heat-transfer coefficient-area product ``UA`` [1]_ (§11, jacketed vessels):

.. math::

    C_j \\frac{dT_j}{dt} &= Q_{tcu} - UA_{eff} (T_j - T) - UA_a (T_j - T_a) \\\\
    C \\frac{dT}{dt} &= UA_{eff} (T_j - T) - UA_a (T - T_a) + Q_{ext}
        + \\rho c_p F_{in} (T_{in} - T)

The temperature control unit (TCU) supplies ``Q_tcu = u/100 Q_max`` for an output ``u`` in
[-100, 100] % (positive heats, negative cools), fading to zero as the jacket approaches the
utility temperature (hot water / glycol), so the jacket never passes it. ``UA_eff`` falls
with the wetted fraction of the jacket and with fouling (fault ``fouling``); a heater
failure (fault ``heater_failure``) scales the heating part of ``Q_tcu``.

Sizing from the vessel's capacity ``V`` [L] (a cylinder with height = diameter, 80 % of
its wall and bottom jacketed): ``D = (4 V / pi)^(1/3)``, ``A = 0.8 x 1.25 pi D^2``,
``U = 250 W/(m^2 K)`` (water / water through stainless steel, [1]_ Table 11.3 range),
``C_j = 0.1 rho c_p V``, a vessel wall worth ``0.15 rho c_p V`` and ``Q_max`` heating the
full vessel by 20 K/h. A 2000 L vessel then has ``UA`` = 1.8 kW/K, a jacket time constant
``C_j / UA`` of 7 min and heats 20 to 37 degC in about 1.2 h.

Integration: backward Euler on the linear part, ``Q_tcu`` taken at the start of each
sub-step (at most 30 s), which is stable for any step.

Steam-in-place (:class:`SteamSupply`)
------------------------------------
Clean steam injected into a drained vessel at up to ``Q_steam`` (saturated at 3 bar(g),
143.6 degC) heats the vessel wall; while steam is present the vessel pressure is the
saturation pressure of water at the vessel temperature (Antoine equation, [2]_), and it
falls back to atmospheric when the steam is shut off (time constant 60 s, venting).

References
----------
.. [1] R. K. Sinnott, *Coulson & Richardson's Chemical Engineering Design*, vol. 6, 4th ed.,
   Elsevier, 2005, §12 (heat transfer to vessels) and Table 12.1 (overall coefficients).
.. [2] Antoine constants of water, ``log10 P[mmHg] = A - B / (C + T[degC])``: A = 8.07131,
   B = 1730.63, C = 233.426 (1-100 degC) and A = 8.14019, B = 1810.94, C = 244.485
   (99-374 degC), as tabulated in the Dortmund Data Bank and reproduced in the Antoine
   equation's common references; 121.5 degC gives 2.07 bar(a), steam tables 2.08.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from phactory.control.plant.channels import Channel, Value
from phactory.control.plant.equipment import (
    AMBIENT_C,
    WATER_CP,
    WATER_RHO,
    Contents,
    EquipmentModel,
)

__all__ = ["JacketedVessel", "SteamSupply", "saturation_pressure_bar"]

_MAX_SUBSTEP_S = 30.0
_ATM_BAR = 1.01325


def saturation_pressure_bar(t_c: float) -> float:
    """Saturation pressure of water [bar(a)] at ``t_c`` [degC] (Antoine equation [2]_)."""
    t = max(t_c, 1.0)
    if t < 100.0:
        mmhg = 10 ** (8.07131 - 1730.63 / (233.426 + t))
    else:
        mmhg = 10 ** (8.14019 - 1810.94 / (244.485 + t))
    return float(mmhg) * 1.01325 / 760.0


class JacketedVessel(EquipmentModel):
    """Jacket and contents temperatures of a vessel (see the module docstring).

    Parameters
    ----------
    capacity_l
        Vessel capacity [L]; sizes every coefficient.
    what
        What the "contents" are, for channel descriptions (``contents``, ``shelf``).
    t_hot, t_cold
        Utility temperatures the jacket cannot pass [degC].
    heat_rate_k_h
        Heating (and cooling) rate of the full vessel at 100 % output [K/h].
    low, high
        Range of the temperature transmitters [degC].

    Attributes
    ----------
    fouling
        Fraction of ``UA`` lost to fouling [-] (fault ``fouling``).
    heater_health
        Fraction of the heating duty still available [-] (fault ``heater_failure``).
    """

    feature = "thermal"

    def __init__(
        self,
        capacity_l: float,
        *,
        what: str = "contents",
        t_hot: float = 95.0,
        t_cold: float = -15.0,
        heat_rate_k_h: float = 20.0,
        low: float = -20.0,
        high: float = 150.0,
    ) -> None:
        v_m3 = max(capacity_l, 0.1) / 1000.0
        d = float((4.0 * v_m3 / math.pi) ** (1.0 / 3.0))
        area = 0.8 * 1.25 * math.pi * d * d
        full = WATER_RHO * WATER_CP * max(capacity_l, 0.1)  # [J/K]
        self.capacity_l = capacity_l
        self.what = what
        self.ua = 250.0 * area  # [W/K]
        self.ua_amb = 2.0 * area  # insulated vessel [W/K]
        self.c_jacket = 0.1 * full
        self.c_wall = 0.15 * full
        self.q_max = full * heat_rate_k_h / 3600.0  # [W]
        self.t_hot, self.t_cold = t_hot, t_cold
        self.low, self.high = low, high
        self.t_jacket = AMBIENT_C
        self.fouling = 0.0
        self.heater_health = 1.0
        #: Longest sub-step [s] while the TCU acts (its duty is taken at the sub-step's
        #: start); without TCU output ten times longer.
        self.max_substep_s = _MAX_SUBSTEP_S

    # ------------------------------------------------------------------ contract
    def channels(self) -> list[Channel]:
        f = self.feature
        return [
            Channel("TT", "in", "REAL", "degC", self.low, self.high,
                    f"{self.what} temperature", f),
            Channel("TT_J", "in", "REAL", "degC", self.low, self.high,
                    "jacket (heat-transfer fluid) temperature", f),
            Channel("TCU", "out", "REAL", "%", -100.0, 100.0,
                    "temperature control unit output (+ heat, - cool)", f, 0.0),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        return 0.05  # Pt100 class A with transmitter [K]

    def truth(self, c: Contents) -> dict[str, Value]:
        return {"TT": c.temperature_c, "TT_J": self.t_jacket}

    def heat_capacity(self, c: Contents) -> float:
        """Heat capacity of the contents and wetted wall [J/K]."""
        return WATER_RHO * WATER_CP * max(c.volume_l, 0.0) + self.c_wall

    def ua_effective(self, c: Contents) -> float:
        """``UA`` through the wetted, possibly fouled, jacket [W/K]."""
        wetted = min(max(c.volume_l / (0.5 * self.capacity_l), 0.2), 1.0)
        return self.ua * wetted * (1.0 - self.fouling)

    def duty(self, u_pct: float) -> float:
        """TCU duty [W] at output ``u_pct`` [%] and the current jacket temperature."""
        u = min(max(u_pct, -100.0), 100.0) / 100.0
        if u >= 0.0:
            fade = min(max((self.t_hot - self.t_jacket) / 20.0, 0.0), 1.0)
            return u * self.q_max * self.heater_health * fade
        fade = min(max((self.t_jacket - self.t_cold) / 20.0, 0.0), 1.0)
        return u * self.q_max * fade

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        u = float(out.get("TCU", 0.0))
        longest = self.max_substep_s if u else 10.0 * self.max_substep_s
        n = max(1, math.ceil(dt / longest))
        h = dt / n
        for _ in range(n):
            cap = self.heat_capacity(c)
            ua = self.ua_effective(c)
            m_in = WATER_RHO * WATER_CP * max(c.inflow_l_s, 0.0)  # [W/K]
            a = self.c_jacket / h
            b = cap / h
            # Backward Euler: [[a11, -ua], [-ua, a22]] @ [Tj, T] = [r1, r2]
            a11 = a + ua + self.ua_amb
            a22 = b + ua + self.ua_amb + m_in
            r1 = a * self.t_jacket + self.duty(u) + self.ua_amb * AMBIENT_C
            r2 = b * c.temperature_c + self.ua_amb * AMBIENT_C + c.heat_w + m_in * c.inflow_temp_c
            det = a11 * a22 - ua * ua
            self.t_jacket = (r1 * a22 + ua * r2) / det
            c.temperature_c = (a11 * r2 + ua * r1) / det

    # ------------------------------------------------------------------ tuning
    def integrating_gain(self, c: Contents) -> float:
        """Slope of the contents temperature per % of TCU output [K/(s %)] with what the
        vessel holds now (the full vessel when it is empty: the working case)."""
        cap = (
            self.heat_capacity(c)
            if c.volume_l > 0.0
            else self.heat_capacity(Contents(capacity_l=self.capacity_l, volume_l=self.capacity_l))
        )
        return self.q_max / 100.0 / cap

    def lag_s(self) -> float:
        """Time constant of the jacket [s]."""
        return self.c_jacket / self.ua


class SteamSupply(EquipmentModel):
    """Clean-steam injection for SIP, and the vessel pressure it makes.

    Parameters
    ----------
    capacity_l
        Vessel capacity [L]: the steam valve heats the empty vessel's wall by up to
        300 K/h.

    Attributes
    ----------
    present
        Fraction of the head space that is steam [-] (1 while steaming).
    """

    feature = "steam"

    def __init__(self, capacity_l: float) -> None:
        wall = 0.15 * WATER_RHO * WATER_CP * max(capacity_l, 0.1)
        self.q_max = wall * 300.0 / 3600.0  # [W]
        self.t_supply = 143.6  # saturated at 3 bar(g) [degC]
        self.present = 0.0
        self.valve = 0.0

    def channels(self) -> list[Channel]:
        f = self.feature
        return [
            Channel("PT", "in", "REAL", "bar", -1.0, 4.0, "vessel pressure (gauge)", f),
            Channel("STEAM", "out", "REAL", "%", 0.0, 100.0, "clean-steam valve opening", f,
                    0.0),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        return 0.005  # [bar]

    def truth(self, c: Contents) -> dict[str, Value]:
        p = self.present * max(saturation_pressure_bar(c.temperature_c) - _ATM_BAR, 0.0)
        return {"PT": p}

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        self.valve = min(max(float(out.get("STEAM", 0.0)), 0.0), 100.0)
        target = 1.0 if self.valve > 0.5 else 0.0
        self.present = target + (self.present - target) * math.exp(-dt / 60.0)
        fade = min(max((self.t_supply - c.temperature_c) / 10.0, 0.0), 1.0)
        c.heat_w += self.valve / 100.0 * self.q_max * fade
