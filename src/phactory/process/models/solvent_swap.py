"""Solvent swap by batch distillation: constant-volume versus put-and-take.

A solution made in a low-boiling solvent (e.g. methanol, THF) must end in a higher-boiling one
(water, toluene) with little of the first left. The still is a single equilibrium stage: the
vapour leaving the boiling liquid is in equilibrium with it (:mod:`.vle`) and is condensed and
removed. Two operating strategies are modelled:

* **constant volume** ("chase" or "feed-and-bleed"): the new solvent is fed continuously at the
  rate the distillate leaves, so the liquid volume stays at the holdup ``H``;
* **put-and-take**: distil down to a fraction ``r`` of the holdup, top up with new solvent,
  repeat; the last cycle is shortened so that exactly the solvent budget is used.

With liquid moles ``n_L``, ``n_H`` of light and heavy solvent, distillate volume rate ``Dv``
[L/h], vapour composition ``y(x)`` and liquid molar volumes ``v`` [L/mol] (ideal mixing, so
liquid volume is additive):

    dn_L/dt = -D y,   dn_H/dt = F - D (1 - y),   D = Dv / (y v_L + (1 - y) v_H),

with ``F = Dv / v_H`` during a constant-volume swap and ``F = 0`` while distilling down in
put-and-take (top-ups are fed at a constant rate over ``charge_time``). For a constant relative
volatility ``a`` and constant molar holdup the constant-volume solvent requirement is closed
form (integrate ``H dx = -y dS``):

    S / H = (1/a) ln(x0/xf) + ((a - 1)/a) (x0 - xf),

e.g. 2.195 for a = 3 and x from 1 to 0.01; ``tests/process/test_solvent_swap.py`` checks the
numerical model against it.

References
----------
.. [1] Lord Rayleigh, "On the distillation of binary mixtures", Phil. Mag. 4 (1902) 521-537
   (single-stage batch distillation).
.. [2] N. G. Anderson, Practical Process Research and Development, 2nd ed., Academic Press,
   2012, ch. 11 (solvent exchange by constant-volume and put-and-take distillation).
.. [3] NIST Chemistry WebBook, SRD 69 (Antoine constants, see :mod:`.vle`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

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
from phactory.process.models.vle import SYSTEMS, BinaryVLE
from phactory.process.parameters import Parameter, resolve_parameters

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "STRATEGIES",
    "SolventSwap",
    "SolventSwapTHFToluene",
    "SwapOption",
    "optimise_solvent_swap",
]

STRATEGIES = ("constant_volume", "put_and_take")
_COLUMNS = [
    "light_mole_fraction",
    "light_mass_fraction",
    "vapour_mole_fraction",
    "temperature",
    "volume",
    "distillate",
    "solvent_added",
]


class SolventSwap(UnitOperationModel):
    """Batch distillative solvent swap (single stage, Raoult/Antoine VLE).

    Parameters
    ----------
    system : str or BinaryVLE
        ``"methanol-water"`` or ``"thf-toluene"`` (light solvent replaced -> heavy kept), or a
        VLE object such as :class:`~.vle.ConstantRelativeVolatility`.
    strategy : str
        ``"constant_volume"`` or ``"put_and_take"``.

    Notes
    -----
    CPPs: solvent ratio (new solvent fed per holdup volume), pressure, and the put-and-take
    distil-down fraction. CQA: residual light solvent (mass fraction) at or below 0.5 % w/w;
    solvent used and batch time are reported for optimisation
    (:func:`optimise_solvent_swap`).

    References
    ----------
    Rayleigh 1902 [1]_, Anderson 2012 [2]_, NIST WebBook [3]_ (see the module docstring).
    """

    name = "solvent_swap"
    title = "Solvent swap by batch distillation, methanol -> water"
    parameters = (
        Parameter(
            "solvent_ratio", "", 2.5, 0.5, 8.0, "new solvent fed per holdup volume [L/L]", cpp=True
        ),
        Parameter("pressure", "bar", 1.01325, 0.2, 1.1, "still pressure", cpp=True),
        Parameter(
            "min_volume_fraction",
            "",
            0.5,
            0.2,
            0.95,
            "put-and-take: distil down to this fraction of the holdup",
            cpp=True,
        ),
        Parameter("holdup_volume", "L", 1000.0, 1.0, 20000.0, "working liquid volume H"),
        Parameter(
            "distillation_rate",
            "L/h",
            250.0,
            1.0,
            10000.0,
            "distillate rate (as liquid)",
            uncertainty=0.05,
        ),
        Parameter("charge_time", "h", 0.25, 0.01, 5.0, "put-and-take: duration of one top-up"),
        Parameter(
            "initial_light_fraction",
            "",
            1.0,
            0.05,
            1.0,
            "initial mole fraction of the light solvent",
            uncertainty=0.01,
        ),
    )
    states = (
        Variable("light_moles", "mol", "light solvent in the still", nonnegative=True),
        Variable("heavy_moles", "mol", "heavy solvent in the still", nonnegative=True),
    )
    outputs = (
        Variable(
            "light_mole_fraction", "", "liquid mole fraction of the light solvent", nonnegative=True
        ),
        Variable(
            "light_mass_fraction", "", "liquid mass fraction of the light solvent", nonnegative=True
        ),
        Variable(
            "vapour_mole_fraction",
            "",
            "vapour mole fraction of the light solvent",
            nonnegative=True,
        ),
        Variable("temperature", "degC", "boiling temperature (nan for constant volatility)"),
        Variable("volume", "L", "liquid volume", nonnegative=True),
        Variable("distillate", "L", "cumulative distillate", nonnegative=True),
        Variable("solvent_added", "L", "cumulative new solvent fed", nonnegative=True),
    )
    cqas = (
        QualityAttribute(
            "residual_light_solvent",
            "",
            "mass fraction of the light solvent at the end",
            upper=0.005,
        ),
        QualityAttribute("solvent_used", "L", "new solvent consumed"),
        QualityAttribute("batch_time", "h", "duration of the swap"),
    )

    def __init__(
        self, system: str | BinaryVLE = "methanol-water", strategy: str = "constant_volume"
    ) -> None:
        self.system = system
        self.strategy = strategy

    # ------------------------------------------------------------------ configuration
    def _check_config(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ModelConfigError(
                f"solvent_swap: strategy must be one of {STRATEGIES}, got {self.strategy!r}"
            )
        if isinstance(self.system, str) and self.system not in SYSTEMS:
            raise ModelConfigError(
                f"solvent_swap: unknown system {self.system!r}; known: {sorted(SYSTEMS)}"
            )

    @property
    def vle(self) -> BinaryVLE:
        """The equilibrium description of the configured system."""
        return SYSTEMS[self.system] if isinstance(self.system, str) else self.system

    # ------------------------------------------------------------------ dynamics
    def _segment(
        self,
        p: dict[str, float],
        n0: tuple[float, float],
        duration: float,
        feed_volume_rate: float,
        distil: bool,
        stop_at_x: float | None = None,
    ) -> tuple[FloatArray, FloatArray, bool]:
        """Integrate one operating step; return (times, [nL, nH] rows, stopped_by_event)."""
        vle = self.vle
        v_l, v_h = vle.light.molar_volume, vle.heavy.molar_volume
        dv = p["distillation_rate"] if distil else 0.0
        pressure = p["pressure"]
        guess: list[float | None] = [None]

        def rhs(t: float, n: FloatArray) -> list[float]:
            nl, nh = max(float(n[0]), 0.0), max(float(n[1]), 0.0)
            x = nl / (nl + nh)
            y, temp = vle.equilibrium(x, pressure, guess[0])
            guess[0] = None if math.isnan(temp) else temp
            d = dv / (y * v_l + (1.0 - y) * v_h)
            f = feed_volume_rate / v_h
            return [-d * y, f - d * (1.0 - y)]

        events = []
        if stop_at_x is not None:
            target = stop_at_x

            def reached(t: float, n: FloatArray) -> float:
                return float(n[0] / (n[0] + n[1]) - target)

            reached.terminal = True  # type: ignore[attr-defined]
            reached.direction = -1  # type: ignore[attr-defined]
            events.append(reached)
        from scipy.integrate import solve_ivp

        scale = max(n0[0] + n0[1], 1e-12)
        sol = solve_ivp(
            rhs,
            (0.0, duration),
            list(n0),
            method="LSODA",
            rtol=1e-8,
            atol=1e-10 * scale,
            events=events or None,
            dense_output=False,
        )
        if sol.status < 0:
            raise SimulationError(f"solvent_swap: integrator failed: {sol.message}")
        return sol.t, sol.y.T, sol.status == 1

    def _initial_moles(self, p: dict[str, float]) -> tuple[float, float]:
        vle = self.vle
        x0 = p["initial_light_fraction"]
        v_mix = x0 * vle.light.molar_volume + (1 - x0) * vle.heavy.molar_volume
        total = p["holdup_volume"] / v_mix
        return x0 * total, (1 - x0) * total

    def _trajectory(
        self, p: dict[str, float]
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, int]:
        """Times, moles, cumulative distillate and solvent fed; and the number of charges."""
        h = p["holdup_volume"]
        budget = p["solvent_ratio"] * h
        rate = p["distillation_rate"]
        n = self._initial_moles(p)
        ts: list[FloatArray] = []
        ns: list[FloatArray] = []
        dist: list[FloatArray] = []
        fed: list[FloatArray] = []
        t0 = d0 = f0 = 0.0
        charges = 0

        def add(t: FloatArray, rows: FloatArray, d_rate: float, f_rate: float) -> None:
            nonlocal t0, d0, f0, n
            ts.append(t0 + t)
            ns.append(rows)
            dist.append(d0 + d_rate * t)
            fed.append(f0 + f_rate * t)
            t0, d0, f0 = t0 + float(t[-1]), d0 + d_rate * float(t[-1]), f0 + f_rate * float(t[-1])
            n = (float(rows[-1, 0]), float(rows[-1, 1]))

        if self.strategy == "constant_volume":
            t, rows, _ = self._segment(p, n, budget / rate, rate, True)
            add(t, rows, rate, rate)
        else:
            step = (1.0 - p["min_volume_fraction"]) * h
            remaining = budget
            while remaining > 1e-9 * h:
                take = min(step, remaining)
                t, rows, _ = self._segment(p, n, take / rate, 0.0, True)
                add(t, rows, rate, 0.0)
                charge_rate = take / p["charge_time"]
                t, rows, _ = self._segment(p, n, p["charge_time"], charge_rate, False)
                add(t, rows, 0.0, charge_rate)
                remaining -= take
                charges += 1
        return (
            np.concatenate(ts),
            np.vstack(ns),
            np.concatenate(dist),
            np.concatenate(fed),
            charges,
        )

    def _describe(self, p: dict[str, float], moles: FloatArray) -> FloatArray:
        """Outputs (see ``_COLUMNS``) for each row of liquid moles."""
        vle = self.vle
        m_l, m_h = vle.light.molar_mass, vle.heavy.molar_mass
        v_l, v_h = vle.light.molar_volume, vle.heavy.molar_volume
        out = np.empty((moles.shape[0], 5))
        guess: float | None = None
        for i, (nl, nh) in enumerate(moles):
            nl, nh = max(nl, 0.0), max(nh, 0.0)
            x = nl / (nl + nh)
            y, temp = vle.equilibrium(x, p["pressure"], guess)
            guess = None if math.isnan(temp) else temp
            out[i] = (x, nl * m_l / (nl * m_l + nh * m_h), y, temp - 273.15, nl * v_l + nh * v_h)
        return out

    def _run(self, p: dict[str, float], times: FloatArray | None) -> RunOutput:
        t, moles, dist, fed, _ = self._trajectory(p)
        # Drop repeated time stamps where one step ends and the next begins.
        keep = np.concatenate([[True], np.diff(t) > 0])
        t, moles, dist, fed = t[keep], moles[keep], dist[keep], fed[keep]
        if times is not None:
            sel = times[times <= t[-1] + 1e-12]
            moles = np.column_stack([np.interp(sel, t, moles[:, j]) for j in range(2)])
            dist, fed, t = np.interp(sel, t, dist), np.interp(sel, t, fed), sel
            final = self._trajectory(p)[1][-1]
        else:
            final = moles[-1]
        desc = self._describe(p, moles)
        data = np.column_stack([moles, desc, dist, fed])
        columns = dict(zip(["light_moles", "heavy_moles", *_COLUMNS], data.T, strict=True))
        end = self._describe(p, np.asarray([final]))[0]
        cqas = {
            "residual_light_solvent": float(end[1]),
            "solvent_used": p["solvent_ratio"] * p["holdup_volume"],
            "batch_time": self.batch_time(p),
        }
        return t, columns, cqas

    def batch_time(self, p: dict[str, float]) -> float:
        """Duration [h]: distillation time plus, for put-and-take, the top-up time."""
        h, rate = p["holdup_volume"], p["distillation_rate"]
        budget = p["solvent_ratio"] * h
        if self.strategy == "constant_volume":
            return budget / rate
        charges = math.ceil(budget / ((1.0 - p["min_volume_fraction"]) * h) - 1e-9)
        return budget / rate + charges * p["charge_time"]

    # ------------------------------------------------------------------ targets
    def solvent_to_reach(
        self, light_mole_fraction: float, params: dict[str, object] | None = None
    ) -> float:
        """New solvent per holdup volume [L/L] to bring the liquid to a target composition.

        For ``constant_volume`` this integrates with a terminal event at the target; for
        ``put_and_take`` it runs cycles of the configured depth and shortens the last one.

        Parameters
        ----------
        light_mole_fraction
            Target liquid mole fraction of the light solvent [-].
        params
            Other parameter values (``solvent_ratio`` is ignored).

        Returns
        -------
        float
            Solvent ratio S/H [-].
        """
        self._check_config()
        given = {k: v for k, v in (params or {}).items() if k != "solvent_ratio"}
        p = resolve_parameters(self.parameters, given)
        h, rate = p["holdup_volume"], p["distillation_rate"]
        n = self._initial_moles(p)
        if n[0] / (n[0] + n[1]) <= light_mole_fraction:
            return 0.0
        horizon = 1000.0 * h / rate  # a thousand holdups: far beyond any sensible swap
        if self.strategy == "constant_volume":
            t, _, hit = self._segment(p, n, horizon, rate, True, stop_at_x=light_mole_fraction)
            if not hit:
                raise SimulationError("solvent_swap: target composition not reached")
            return float(t[-1]) * rate / h
        step = (1.0 - p["min_volume_fraction"]) * h
        used = 0.0
        for _ in range(100_000):
            _, rows, _ = self._segment(p, n, step / rate, 0.0, True)
            after = self._top_up(rows[-1], step)
            if after[0] / (after[0] + after[1]) <= light_mole_fraction:
                # Last cycle: bisect the distilled volume that lands exactly on the target.
                lo, hi = 0.0, step
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    _, r2, _ = self._segment(p, n, mid / rate, 0.0, True)
                    a2 = self._top_up(r2[-1], mid)
                    if a2[0] / (a2[0] + a2[1]) <= light_mole_fraction:
                        hi = mid
                    else:
                        lo = mid
                return (used + hi) / h
            n = after
            used += step
        raise SimulationError("solvent_swap: target composition not reached")

    def _top_up(self, moles: FloatArray, volume: float) -> tuple[float, float]:
        return float(moles[0]), float(moles[1]) + volume / self.vle.heavy.molar_volume


class SolventSwapTHFToluene(SolventSwap):
    """:class:`SolventSwap` from THF to toluene (registered as ``solvent_swap_thf_toluene``)."""

    name = "solvent_swap_thf_toluene"
    title = "Solvent swap by batch distillation, THF -> toluene"

    def __init__(
        self, system: str | BinaryVLE = "thf-toluene", strategy: str = "constant_volume"
    ) -> None:
        super().__init__(system, strategy)


@dataclass(frozen=True, slots=True)
class SwapOption:
    """One way to meet the residual-solvent limit (a row of :func:`optimise_solvent_swap`)."""

    strategy: str
    min_volume_fraction: float
    solvent_ratio: float
    solvent_used: float
    batch_time: float
    charges: int


def optimise_solvent_swap(
    system: str | BinaryVLE = "methanol-water",
    residual_limit: float = 0.005,
    params: dict[str, object] | None = None,
    depths: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
) -> pd.DataFrame:
    """Least solvent, then least time, that meets a residual-solvent limit, per strategy.

    Parameters
    ----------
    system
        Solvent system, as for :class:`SolventSwap`.
    residual_limit
        Largest acceptable mass fraction of the light solvent at the end [-].
    params
        Other parameter values (pressure, holdup, distillation rate, charge time, ...).
    depths
        Put-and-take distil-down fractions ``r`` to compare (deeper uses less solvent but
        needs more top-ups; the smallest is usually limited by the minimum stirred volume).

    Returns
    -------
    pandas.DataFrame
        One row per option (columns of :class:`SwapOption`), sorted by solvent used and then
        batch time; the first row is the optimum.
    """
    import pandas as pd

    rows: list[SwapOption] = []
    base = dict(params or {})
    for strategy in STRATEGIES:
        for r in depths if strategy == "put_and_take" else (float("nan"),):
            model = SolventSwap(system, strategy)
            given = dict(base)
            if strategy == "put_and_take":
                given["min_volume_fraction"] = r
            p = resolve_parameters(model.parameters, given)
            x_target = _mole_fraction_for_mass_fraction(model.vle, residual_limit)
            s = model.solvent_to_reach(x_target, given)
            p["solvent_ratio"] = s
            charges = 0 if strategy == "constant_volume" else math.ceil(s / (1.0 - r) - 1e-9)
            rows.append(
                SwapOption(strategy, r, s, s * p["holdup_volume"], model.batch_time(p), charges)
            )
    frame = pd.DataFrame([asdict(r) for r in rows])
    return frame.sort_values(["solvent_used", "batch_time"]).reset_index(drop=True)


def _mole_fraction_for_mass_fraction(vle: BinaryVLE, w: float) -> float:
    """Light-solvent mole fraction [-] of a mixture with light mass fraction ``w`` [-]."""
    nl = w / vle.light.molar_mass
    nh = (1.0 - w) / vle.heavy.molar_mass
    return nl / (nl + nh)
