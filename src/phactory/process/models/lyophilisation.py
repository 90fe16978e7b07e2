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
from collections.abc import Callable

import numpy as np

from phactory.process.contract import (
    FloatArray,
    ModelConfigError,
    QualityAttribute,
    RunOutput,
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

    Every point of the declared parameter box simulates (the contract's valid-domain test):

    * the inner (product) cross-section ``Ap`` is given as a fraction of the outer one
      ``Av`` (``product_area_fraction`` = Ap/Av in [0.5, 1]) rather than as a second area,
      because a vial's inner area cannot exceed its outer one and two independent area
      bounds would declare impossible vials valid; ``Ap = product_area_fraction * Av``
      (LyoPRONTO's 2R vial: 3.14/3.80);
    * a product resistance of zero (``r0 = 0`` at the start of drying, or ``r0 = a1 = 0``)
      is valid: the heat balance is solved in a form multiplied through by ``Rp``, which
      at ``Rp = 0`` puts the front at the saturation temperature of the chamber pressure
      and lets heat transfer alone limit sublimation;
    * a vial heat-transfer coefficient of zero (``kc = kp = 0``) sublimes nothing, and the
      run is reported unfinished at the horizon.

    The maxima reported as CQAs (product and front temperature, sublimation flux) are
    maxima over the continuous solution: the largest value on the reporting grid, at the
    end of the shelf ramp and at the end of drying is refined by a bounded scalar search
    (Brent) on the dense output between its neighbours, so that they do not depend on, and
    are not underestimated by, a grid (a 101-point grid read the maximum flux up to 1.3 %
    low).

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
        Parameter(
            "product_area_fraction",
            "",
            3.14 / 3.80,
            0.5,
            1.0,
            "product (inner) cross-section as a fraction of the outer one, Ap/Av",
        ),
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
    states = (Variable("cake_length", "cm", "dried-layer thickness L", nonnegative=True),)
    outputs = (
        Variable("dried_fraction", "", "fraction of the frozen layer sublimed", nonnegative=True),
        Variable("sublimation_temperature", "degC", "temperature at the sublimation front"),
        Variable("product_temperature", "degC", "product temperature at the vial bottom"),
        Variable("shelf_temperature", "degC", "shelf temperature"),
        Variable("chamber_pressure", "mtorr", "chamber pressure", nonnegative=True),
        Variable(
            "sublimation_flux", "kg/h/m**2", "sublimation flux per product area", nonnegative=True
        ),
        Variable(
            "product_resistance", "cm**2*torr*h/g", "dried-layer resistance Rp", nonnegative=True
        ),
        Variable("kv", "cal/s/K/cm**2", "vial heat-transfer coefficient", nonnegative=True),
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
    def product_area(p: dict[str, float]) -> float:
        """Product (inner) cross-section Ap [cm**2]."""
        return p["product_area_fraction"] * p["vial_area"]

    @classmethod
    def initial_fill_height(cls, p: dict[str, float]) -> float:
        """Height of the frozen layer [cm] for fill volume, product area and solid content."""
        c = p["solid_fraction"]
        dens = RHO_SOLUTION - c * (RHO_SOLUTION - RHO_ICE) / RHO_SOLUTE
        return p["fill_volume"] / (cls.product_area(p) * RHO_ICE) * dens

    @classmethod
    def _front(
        cls, p: dict[str, float], length: float, t_shelf: float, lpr0: float
    ) -> tuple[float, float, float, float, float]:
        """Solve the quasi-steady heat balance at dried-layer thickness ``length`` [cm].

        Returns (Tsub [degC], dm/dt [g/h], Rp, Kv, Tbot [degC]).

        Mass flux ``Ap (Ps(T) - Pch) / Rp`` and heat flux ``Kv Av (Tsh - Tbot)``, with
        ``Tbot = T + q L_ice / (Ap k_ice)``, balance when

            g(T) = dHs Ap (1 + Kv Av L_ice / (Ap k_ice)) (Ps(T) - Pch) / 3600
                   - Rp Kv Av (Tsh - T) = 0,

        the balance multiplied through by ``Rp`` so that ``Rp = 0`` is allowed. ``g`` is
        strictly increasing and convex in ``T``: its root is unique and Newton's method
        from the left of it (``min(Tsh, Tsat(Pch))``) converges monotonically. The
        sublimation rate is then taken from the heat flux, which is defined for any ``Rp``.
        """
        pch = p["chamber_pressure"]
        kv = p["kc"] + p["kp"] * pch / (1.0 + p["kd"] * pch)
        rp = p["r0"] + p["a1"] * length / (1.0 + p["a2"] * length)
        ap = cls.product_area(p)
        av = p["vial_area"]
        ice = max(lpr0 - length, 0.0)
        series = 1.0 + kv * av * ice / (ap * K_ICE)  # vial and ice layer in series [-]
        c_mass = DH_SUB * ap * series / 3600.0  # [cal/(s Torr)] * Rp
        c_heat = rp * kv * av  # [cal/(s K)] * Rp
        t = min(t_shelf, _P_B / math.log(_P_A / pch) - 273.15)
        for _ in range(200):
            ps = ice_vapour_pressure(t)
            g = c_mass * (ps - pch) - c_heat * (t_shelf - t)
            dg = c_mass * ps * _P_B / (t + 273.15) ** 2 + c_heat
            step = g / dg
            t -= max(min(step, 20.0), -20.0)
            if abs(step) < 1e-10:
                break
        else:
            raise SimulationError(
                f"lyophilisation: heat balance did not converge at L={length:.4g} cm"
            )
        heat = kv * av * (t_shelf - t) / series  # [cal/s] through vial and ice
        dmdt = max(3600.0 * heat / DH_SUB, 0.0)  # [g/h]
        tbot = t + DH_SUB * dmdt / 3600.0 * ice / (ap * K_ICE)
        return t, dmdt, rp, kv, tbot

    def _run(self, p: dict[str, float], times: FloatArray | None) -> RunOutput:
        from scipy.integrate import solve_ivp

        lpr0 = self.initial_fill_height(p)
        ap = self.product_area(p)
        c = p["solid_fraction"]
        # Dried-layer growth per gram of ice sublimed [cm/g]
        geom = (1.0 - c * (RHO_SOLUTION - RHO_ICE) / RHO_SOLUTE) / (
            (1.0 - c * RHO_SOLUTION / RHO_SOLUTE) * ap * RHO_ICE
        )
        t_init, t_set = p["shelf_initial_temperature"], p["shelf_temperature"]
        rate = p["shelf_ramp_rate"] * 60.0  # [K/h]
        up = t_set >= t_init

        def shelf(t: float) -> float:
            ramp = t_init + (rate if up else -rate) * t
            return min(t_set, ramp) if up else max(t_set, ramp)

        def rhs(t: float, y: FloatArray) -> list[float]:
            _, dmdt, _, _, _ = self._front(p, min(float(y[0]), lpr0), shelf(t), lpr0)
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
                    return float(min(max(s.sol(t)[0], 0.0), lpr0))
            return float(min(sols[-1].y[0, -1], lpr0))

        def row(t: float) -> tuple[float, ...]:
            length = length_at(t)
            tsh = shelf(t)
            tsub, dmdt, rp, kv, tbot = self._front(p, length, tsh, lpr0)
            flux = dmdt / 1000.0 / (ap * 1e-4)  # [kg/(h m**2)]
            return (
                length,
                length / lpr0,
                tsub,
                tbot,
                tsh,
                p["chamber_pressure"] * 1e3,
                flux,
                rp,
                kv,
            )

        grid = np.linspace(0.0, t_end, 101) if times is None else times[times <= t_end + 1e-12]
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
        table = np.array([row(float(t)) for t in grid], dtype=float).reshape(-1, len(cols))
        columns = dict(zip(cols, table.T, strict=True))
        # CQAs as maxima of the continuous solution, independent of the reporting grid.
        coarse = np.unique(np.concatenate([np.linspace(0.0, t_end, 101), [min(t_kink, t_end)]]))
        fraction = 1.0 if finished else length_at(t_end) / lpr0
        t_max_prod = _continuous_max(lambda t: row(t)[3], coarse)
        cqas = {
            "collapse_margin": p["collapse_temperature"] - t_max_prod,
            "dried_fraction": fraction,
            "primary_drying_time": t_end,
            "max_product_temperature": t_max_prod,
            "max_sublimation_temperature": _continuous_max(lambda t: row(t)[2], coarse),
            "max_sublimation_flux": _continuous_max(lambda t: row(t)[6], coarse),
        }
        return np.asarray(grid, float), columns, cqas


def _continuous_max(f: Callable[[float], float], times: FloatArray) -> float:
    """Maximum of ``f`` over [times[0], times[-1]], ``f`` smooth between the given times.

    The largest value at ``times`` (which include every kink of ``f``) is refined by a
    bounded Brent search on each of the two intervals beside it.
    """
    from scipy.optimize import minimize_scalar

    values = [f(float(t)) for t in times]
    i = int(np.argmax(values))
    best = values[i]
    for a, b in ((i - 1, i), (i, i + 1)):
        if a < 0 or b >= len(times) or not times[b] > times[a]:
            continue
        lo, hi = float(times[a]), float(times[b])
        res = minimize_scalar(
            lambda t: -f(float(t)),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-10 * max(1.0, hi)},
        )
        best = max(best, -float(res.fun))
    return best
