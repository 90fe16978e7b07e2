"""Primary drying of a vial in a freeze dryer: Pikal's quasi-steady heat and mass balance.

The frozen product in a vial sublimes from a front that moves down from the top of the cake.
Heat flows from the shelf through the vial bottom (vial heat-transfer coefficient ``Kv``) and
through the remaining ice (conductivity ``k_ice``) to the front; vapour leaves through the dried
cake (product resistance ``Rp``) into the chamber. The front temperature adjusts instantly so
that heat in equals heat used by sublimation (quasi-steady state), which leaves a single ODE
for the dried-layer thickness.

Equations (units in brackets):

* ``Kv = KC + KP Pch / (1 + KD Pch)`` [cal/(s K cm^2)] (Pikal et al. 1984),
* ``Rp = R0 + A1 L / (1 + A2 L)`` [cm^2 Torr h/g] with dried-layer thickness ``L`` [cm],
* ice vapour pressure ``Pice(T) = 2.698e10 exp(-6144.96 / (T + 273.15))`` [Torr], T in [degC],
* sublimation rate ``dm/dt = Ap (Pice(Tsub) - Pch) / Rp`` [g/h],
* heat balance ``dHs dm/dt / 3600 = Kv Av (Tsh - Tbot)`` with
  ``Tbot = Tsub + (dHs dm/dt / 3600) (Lpr0 - L) / (Ap k_ice)`` [degC],
* ``dL/dt = dm/dt / (Ap rho_ice) * (1 - c (rho_sln - rho_ice)/rho_solute)
  / (1 - c rho_sln/rho_solute)``, the factor converting sublimed ice to dried-layer thickness
  for a solid content ``c``.

The physical constants (``dHs`` = 678 cal/g, ``k_ice`` = 0.0059 cal/(cm s K), densities 0.918,
1.0 and 1.5 g/mL) and the shelf-ramp convention are those of LyoPRONTO [3]_, so that the
reference case of its regression suite is reproduced (6.65 h, -14.78 degC, 1.132 kg/(h m^2);
see ``tests/process/test_lyophilisation.py``). The implementation here is independent.

References
----------
.. [1] M. J. Pikal, M. L. Roy, S. Shah, "Mass and heat transfer in vial freeze-drying of
   pharmaceuticals: role of the vial", J. Pharm. Sci. 73 (1984) 1224-1237.
.. [2] M. J. Pikal, "Use of laboratory data in freeze drying process design: heat and mass
   transfer coefficients and the computer simulation of freeze drying", J. Parenter. Sci.
   Technol. 39 (1985) 115-139.
.. [3] G. Shivkumar, P. S. Kazarin, A. D. Strongrich, A. A. Alexeenko, "LyoPRONTO: an open-source
   lyophilization process optimization tool", AAPS PharmSciTech 20 (2019) 328;
   https://github.com/LyoHUB/LyoPRONTO
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from phactory.process.contract import (
    FloatArray,
    ModelConfigError,
    QualityAttribute,
    SimulationError,
    UnitOperationModel,
    Variable,
)
from phactory.process.parameters import Parameter

__all__ = ["Lyophilisation", "ice_vapour_pressure"]

# Physical constants (as in LyoPRONTO's constant.py, to reproduce its reference case).
RHO_ICE = 0.918  # [g/mL]
RHO_SOLUTE = 1.5  # [g/mL]
RHO_SOLUTION = 1.0  # [g/mL]
DH_SUB = 678.0  # heat of sublimation [cal/g]
K_ICE = 0.0059  # thermal conductivity of ice [cal/(cm s K)]
_P_A = 2.698e10  # ice vapour pressure pre-factor [Torr]
_P_B = 6144.96  # ice vapour pressure temperature coefficient [K]


def ice_vapour_pressure(t_c: float) -> float:
    """Vapour pressure of ice [Torr] at temperature ``t_c`` [degC]."""
    return _P_A * math.exp(-_P_B / (t_c + 273.15))


class Lyophilisation(UnitOperationModel):
    """Primary drying of one vial at a shelf-temperature ramp and constant chamber pressure.

    Parameters
    ----------
    horizon : float
        Longest primary drying simulated [h]; a run that has not finished by then is reported
        with ``dried_fraction`` < 1 (and fails that CQA) rather than extrapolated.

    Notes
    -----
    CPPs are the shelf temperature set point and the chamber pressure. The CQA is the
    margin between the collapse temperature and the maximum product temperature (at the vial
    bottom), which must be non-negative. The reference test reproduces LyoPRONTO's published
    regression case (Pikal parameters above) within 1 %. The defaults are that case except
    for the shelf set point (10 degC instead of 20 degC) and a collapse temperature of
    -15 degC, chosen so that the default batch meets its CQAs with a margin of about 2 K.

    References
    ----------
    See the module docstring: Pikal et al. 1984 [1]_, Pikal 1985 [2]_, LyoPRONTO [3]_.
    """

    name = "lyophilisation"
    title = "Lyophilisation primary drying (Pikal quasi-steady model)"
    parameters = (
        Parameter(
            "shelf_temperature",
            "degC",
            10.0,
            -25.0,
            30.0,
            "shelf temperature set point after the ramp",
            cpp=True,
        ),
        Parameter("chamber_pressure", "torr", 0.15, 0.04, 0.3, "chamber pressure", cpp=True),
        Parameter(
            "shelf_initial_temperature",
            "degC",
            -35.0,
            -50.0,
            -10.0,
            "shelf temperature at the start of primary drying",
        ),
        Parameter("shelf_ramp_rate", "K/min", 1.0, 0.05, 5.0, "shelf heating ramp rate"),
        Parameter("vial_area", "cm**2", 3.80, 0.5, 20.0, "vial outer cross-section Av"),
        Parameter("product_area", "cm**2", 3.14, 0.5, 20.0, "product (inner) cross-section Ap"),
        Parameter("fill_volume", "mL", 2.0, 0.1, 50.0, "fill volume"),
        Parameter("solid_fraction", "", 0.05, 0.0, 0.3, "mass fraction of solute in the solution"),
        Parameter(
            "r0",
            "cm**2*torr*h/g",
            1.4,
            0.0,
            20.0,
            "product resistance at zero dried-layer thickness R0",
            uncertainty=0.10,
        ),
        Parameter(
            "a1", "cm*torr*h/g", 16.0, 0.0, 100.0, "product resistance slope A1", uncertainty=0.10
        ),
        Parameter("a2", "1/cm", 0.0, 0.0, 10.0, "product resistance curvature A2"),
        Parameter(
            "kc",
            "cal/s/K/cm**2",
            2.75e-4,
            0.0,
            2e-3,
            "vial heat transfer, contact term KC",
            uncertainty=0.05,
        ),
        Parameter(
            "kp",
            "cal/s/K/cm**2/torr",
            8.93e-4,
            0.0,
            5e-3,
            "vial heat transfer, gas conduction term KP",
            uncertainty=0.05,
        ),
        Parameter("kd", "1/torr", 0.46, 0.0, 5.0, "vial heat transfer, pressure term KD"),
        Parameter(
            "collapse_temperature",
            "degC",
            -15.0,
            -60.0,
            0.0,
            "collapse (or eutectic) temperature of the formulation (default: a "
            "high-concentration protein formulation)",
        ),
    )
    states = (Variable("cake_length", "cm", "dried-layer thickness L"),)
    outputs = (
        Variable("dried_fraction", "", "fraction of the frozen layer sublimed"),
        Variable("sublimation_temperature", "degC", "temperature at the sublimation front"),
        Variable("product_temperature", "degC", "product temperature at the vial bottom"),
        Variable("shelf_temperature", "degC", "shelf temperature"),
        Variable("chamber_pressure", "mtorr", "chamber pressure"),
        Variable("sublimation_flux", "kg/h/m**2", "sublimation flux per product area"),
        Variable("product_resistance", "cm**2*torr*h/g", "dried-layer resistance Rp"),
        Variable("kv", "cal/s/K/cm**2", "vial heat-transfer coefficient"),
    )
    cqas = (
        QualityAttribute(
            "collapse_margin",
            "K",
            "collapse temperature minus maximum product temperature",
            lower=0.0,
        ),
        QualityAttribute(
            "dried_fraction", "", "fraction of ice sublimed at the end of the run", lower=0.999
        ),
        QualityAttribute("primary_drying_time", "h", "time to sublime all ice"),
        QualityAttribute(
            "max_product_temperature", "degC", "maximum product temperature (vial bottom)"
        ),
        QualityAttribute(
            "max_sublimation_temperature", "degC", "maximum sublimation-front temperature"
        ),
        QualityAttribute(
            "max_sublimation_flux", "kg/h/m**2", "maximum sublimation flux per product area"
        ),
    )

    def __init__(self, horizon: float = 200.0) -> None:
        self.horizon = horizon

    def _check_config(self) -> None:
        if not (isinstance(self.horizon, int | float) and 0 < self.horizon <= 10_000):
            raise ModelConfigError(f"horizon must be in (0, 10000] h, got {self.horizon!r}")

    # ------------------------------------------------------------------ physics
    @staticmethod
    def initial_fill_height(p: dict[str, float]) -> float:
        """Height of the frozen layer [cm] for fill volume, product area and solid content."""
        c = p["solid_fraction"]
        dens = RHO_SOLUTION - c * (RHO_SOLUTION - RHO_ICE) / RHO_SOLUTE
        return p["fill_volume"] / (p["product_area"] * RHO_ICE) * dens

    @staticmethod
    def _front(
        p: dict[str, float], length: float, t_shelf: float, lpr0: float, guess: float
    ) -> tuple[float, float, float, float]:
        """Solve the quasi-steady heat balance; return (Tsub, dm/dt [g/h], Rp, Kv)."""
        pch = p["chamber_pressure"]
        kv = p["kc"] + p["kp"] * pch / (1.0 + p["kd"] * pch)
        rp = p["r0"] + p["a1"] * length / (1.0 + p["a2"] * length)
        ap, av = p["product_area"], p["vial_area"]
        if rp <= 0:
            raise SimulationError("lyophilisation: product resistance must be positive")
        # Heat to the front per unit vapour-pressure difference, including conduction through
        # the remaining ice, expressed as f(T) = 0 which is strictly increasing in T: unique
        # root, and Newton from any start left of it converges monotonically.
        mass_coef = ap / rp  # [g/(h Torr)]
        ice = max(lpr0 - length, 0.0)
        factor = DH_SUB * mass_coef / 3600.0 * (1.0 + kv * av * ice / (ap * K_ICE))
        t = min(guess, t_shelf)
        for _ in range(100):
            ps = ice_vapour_pressure(t)
            f = factor * (ps - pch) - kv * av * (t_shelf - t)
            df = factor * ps * _P_B / (t + 273.15) ** 2 + kv * av
            step = f / df
            t -= max(min(step, 20.0), -20.0)
            if abs(step) < 1e-10:
                break
        else:
            raise SimulationError(
                f"lyophilisation: heat balance did not converge at L={length:.4g} cm"
            )
        dmdt = mass_coef * (ice_vapour_pressure(t) - pch)
        return t, max(dmdt, 0.0), rp, kv

    def _run(
        self, p: dict[str, float], times: FloatArray | None
    ) -> tuple[pd.DataFrame, dict[str, float]]:
        if p["product_area"] > p["vial_area"]:
            raise SimulationError(
                "lyophilisation: product_area must not exceed vial_area "
                f"({p['product_area']} > {p['vial_area']} cm**2)"
            )
        lpr0 = self.initial_fill_height(p)
        c = p["solid_fraction"]
        # Dried-layer growth per gram of ice sublimed [cm/g]
        geom = (1.0 - c * (RHO_SOLUTION - RHO_ICE) / RHO_SOLUTE) / (
            (1.0 - c * RHO_SOLUTION / RHO_SOLUTE) * p["product_area"] * RHO_ICE
        )
        t_init, t_set = p["shelf_initial_temperature"], p["shelf_temperature"]
        rate = p["shelf_ramp_rate"] * 60.0  # [K/h]
        up = t_set >= t_init

        def shelf(t: float) -> float:
            ramp = t_init + (rate if up else -rate) * t
            return min(t_set, ramp) if up else max(t_set, ramp)

        guess = [t_init]

        def rhs(t: float, y: FloatArray) -> list[float]:
            tsub, dmdt, _, _ = self._front(p, float(y[0]), shelf(t), lpr0, guess[0])
            guess[0] = tsub
            return [dmdt * geom]

        def done(t: float, y: FloatArray) -> float:
            return float(lpr0 - y[0])

        done.terminal = True  # type: ignore[attr-defined]
        done.direction = -1  # type: ignore[attr-defined]

        # Integrate the ramp and the hold separately: the shelf temperature has a kink at the
        # end of the ramp, and stepping over it would cost accuracy for nothing.
        t_kink = min(abs(t_set - t_init) / rate, self.horizon)
        pieces = [(0.0, t_kink), (t_kink, self.horizon)] if t_kink > 0 else [(0.0, self.horizon)]
        y0 = [0.0]
        sols = []
        finished = False
        for a, b in pieces:
            if b <= a:
                continue
            sol = solve_ivp(
                rhs,
                (a, b),
                y0,
                method="RK45",
                rtol=1e-7,
                atol=1e-10,
                events=done,
                dense_output=True,
            )
            if sol.status < 0:
                raise SimulationError(f"lyophilisation: integrator failed: {sol.message}")
            sols.append(sol)
            y0 = [float(sol.y[0, -1])]
            if sol.status == 1:
                finished = True
                break
        t_end = float(sols[-1].t[-1])

        def length_at(t: float) -> float:
            for s in sols:
                if s.t[0] <= t <= s.t[-1]:
                    return float(min(s.sol(t)[0], lpr0))
            return float(min(sols[-1].y[0, -1], lpr0))

        grid = np.linspace(0.0, t_end, 101) if times is None else times[times <= t_end + 1e-12]
        rows = []
        g = t_init
        for t in grid:
            length = length_at(float(t))
            tsh = shelf(float(t))
            tsub, dmdt, rp, kv = self._front(p, length, tsh, lpr0, g)
            g = tsub
            ice = max(lpr0 - length, 0.0)
            tbot = tsub + DH_SUB * dmdt / 3600.0 * ice / (p["product_area"] * K_ICE)
            rows.append(
                (
                    length,
                    length / lpr0,
                    tsub,
                    tbot,
                    tsh,
                    p["chamber_pressure"] * 1e3,
                    dmdt / 1000.0 / (p["product_area"] * 1e-4),
                    rp,
                    kv,
                )
            )
        cols = [
            "cake_length",
            "dried_fraction",
            "sublimation_temperature",
            "product_temperature",
            "shelf_temperature",
            "chamber_pressure",
            "sublimation_flux",
            "product_resistance",
            "kv",
        ]
        frame = pd.DataFrame(rows, index=pd.Index(np.asarray(grid, float)), columns=cols)
        # CQAs from a fine grid independent of the reporting grid, so they do not depend on
        # the times a caller asks for.
        fine = frame if times is None else self._run(p, None)[0]
        t_max_prod = float(fine["product_temperature"].max())
        fraction = 1.0 if finished else length_at(t_end) / lpr0
        cqas = {
            "collapse_margin": p["collapse_temperature"] - t_max_prod,
            "dried_fraction": fraction,
            "primary_drying_time": t_end,
            "max_product_temperature": t_max_prod,
            "max_sublimation_temperature": float(fine["sublimation_temperature"].max()),
            "max_sublimation_flux": float(fine["sublimation_flux"].max()),
        }
        return frame, cqas
