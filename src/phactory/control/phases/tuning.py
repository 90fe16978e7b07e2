"""Loop tuning of a unit's phase logic from the models of its equipment.

A commissioning engineer tunes each loop against the process it closes; the virtual plant
knows its processes, so the PI settings of every phase are computed from them with
Skogestad's SIMC rules [1]_:

* integrating process ``k' e^(-theta s) / s`` (a jacketed vessel heated by its TCU, pH
  under dosing, a drained vessel under steam): ``Kc = 1 / (k' (tau_c + theta))``,
  ``Ti = 4 (tau_c + theta)``;
* first-order process ``k e^(-theta s) / (tau_1 s + 1)`` (dissolved oxygen, the CIP heater,
  the freeze-dryer's chamber pressure): ``Kc = tau_1 / (k (tau_c + theta))``,
  ``Ti = min(tau_1, 4 (tau_c + theta))``.

The effective delay ``theta`` is the sum of the measurement lag, half the scan period and
(half rule) the lags of the process beyond the first. The closed-loop time constant
``tau_c`` is ``theta`` (SIMC's "tight control") for temperature, and longer where the
measurement noise would otherwise move the actuator by more than a few per cent (pH:
10 min; dissolved oxygen: 1 min). Temperature set points ramp (``C_RAMP``) and land on
their target exponentially with ``C_TF`` = 0.75 ``Ti`` (a set-point filter, the usual
remedy for the overshoot of a PI loop on an integrating process, [1]_ §5).

References
----------
.. [1] S. Skogestad, "Simple analytic rules for model reduction and PID controller
   tuning", J. Process Control 13 (2003) 291-309.
"""

from __future__ import annotations

from phactory.control.plant.chemistry import OxygenTransfer
from phactory.control.plant.unit import UnitPlant
from phactory.control.pou import NS_PER_S

__all__ = ["first_order_pi", "integrating_pi", "tuning_for"]


def integrating_pi(gain: float, theta: float, tau_c: float) -> tuple[float, float]:
    """SIMC PI for ``gain e^(-theta s)/s`` [PV/(s OUT)]: ``(Kc [OUT/PV], Ti [s])``."""
    return 1.0 / (gain * (tau_c + theta)), 4.0 * (tau_c + theta)


def first_order_pi(gain: float, tau: float, theta: float, tau_c: float) -> tuple[float, float]:
    """SIMC PI for ``gain e^(-theta s)/(tau s + 1)``: ``(Kc [OUT/PV], Ti [s])``."""
    return tau / (gain * (tau_c + theta)), min(tau, 4.0 * (tau_c + theta))


def _ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)


def tuning_for(plant: UnitPlant, scan_s: float) -> dict[str, float | int | bool]:
    """The ``C_*`` configuration inputs of every phase logic for ``plant``.

    Gains are floats, integral times TIME values [ns]. Inputs a unit has no equipment for
    are left out (the logic's defaults stay).
    """
    out: dict[str, float | int | bool] = {}
    half = scan_s / 2.0
    th = plant.thermal
    if th is not None:
        theta = th.lag_s() + 2.0 + half  # jacket lag (half rule) + Pt100 response
        kc, ti = integrating_pi(th.integrating_gain(plant.contents), theta, theta)
        out["C_KP"], out["C_TI"] = kc, _ns(ti)
        # The set point lands on its target with 3/4 of the integral time: slow enough
        # for the integral to unwind, so that the jacket's stored heat gives no overshoot.
        out["C_TF"] = 0.75 * ti
    if plant.steam is not None and th is not None:
        wall_gain = plant.steam.q_max / 100.0 / th.c_wall  # [K/(s %)]
        theta = 5.0 + half
        kc, ti = integrating_pi(wall_gain, theta, 30.0)
        out["C_KP_SIP"], out["C_TI_SIP"] = kc, _ns(ti)
    if plant.ph is not None and plant.ph.dosing:
        rate = plant.ph.pumps["BASE"].max_flow / 3600.0 / 100.0  # [pH/(s %)]
        kc, ti = integrating_pi(rate, 20.0 + half, 600.0)
        out["C_KP_PH"], out["C_TI_PH"] = kc, _ns(ti)
    ox = plant.oxygen
    if isinstance(ox, OxygenTransfer):
        tau = 1.0 / ox.kla(plant.contents.__class__(capacity_l=1.0, agitation_rpm=ox.max_rpm))
        kc, ti = first_order_pi(1.0 / 0.21, tau, 30.0 + half, 60.0)
        out["C_KP_DO"], out["C_TI_DO"] = kc, _ns(ti)
    if plant.agitator is not None:
        out["C_AGIT"] = round(plant.agitator.max_rpm * 0.6)
    if plant.cip is not None:
        kc, ti = first_order_pi(0.7, 300.0, half + 1.0, 60.0)
        out["C_KP_CIP"], out["C_TI_CIP"] = kc, _ns(ti)
    if plant.chamber is not None:
        kc, ti = first_order_pi(5.0, 15.0, half + 1.0, 30.0)
        out["C_KP_P"], out["C_TI_P"] = kc, _ns(ti)
    return out
