"""Process models of :mod:`phactory.process` coupled to the controlled equipment.

A phase that names a process model (the recipe's ``process_model``, or the default of its
logic: ``cho_fed_batch`` for a cell-culture ``grow``) drives it from the phase's Start
until the phase ends (Complete, Stopped or Aborted): the process does not stop when the
phase is held, as cells keep living and the enzyme keeps working. The model sees what the
controllers achieve, not what the recipe asked for, and the equipment sees what the model
does. Each coupling is one modelling choice, stated with its limits:

CHO fed-batch (:class:`CHOCoupling`)
    The model's mass balances are integrated step by step with the kinetics of
    :meth:`phactory.process.models.cho_fed_batch.CHOFedBatch.rates` (the same equations as
    the offline model), every ``interval`` of plant time (10 min) with the culture
    temperature and pH averaged over that interval as the model's temperature and pH.
    Feeding follows the model's feed schedule and sets the vessel volume. The culture
    acidifies the medium with the lactate it makes (pH loop disturbance) and consumes
    oxygen at 0.3 pmol/(cell h) [1]_ (DO loop disturbance). Viable cell density, titre,
    glucose and lactate are read as from an at-line analyser, updated every interval.
    Limits: the model's temperature shift is done by the phase logic (set point change);
    the cardinal pH model sets growth to zero outside pH 6.5-7.6; metabolic heat is
    neglected (a few hundred W in 2000 L).

IVT (:class:`IVTCoupling`)
    The van de Berg model is isothermal and has no pH control, so it is run once at Start
    for the whole reaction time (the phase's duration) at the charged Mg, NTP and T7 RNAP,
    and followed along that trajectory. The protons it releases (its total-proton balance)
    acidify the reactor's medium, which the pH loop neutralises with base. Limits: the RNA
    yield is that of the uncontrolled pH (slightly more acid degradation than with pH
    control); temperature excursions do not change it.

Lyophilisation primary drying (:class:`LyophilisationCoupling`)
    Pikal's quasi-steady heat and mass balance (the ``lyophilisation`` model's
    :meth:`~phactory.process.models.lyophilisation.Lyophilisation._front`) is solved at
    every step at the *measured-true* shelf temperature and chamber pressure, and the
    dried-layer thickness integrated (explicit Euler, at most 60 s sub-steps). Drying
    starts once the chamber is below 1 Torr. Its product temperature feeds the product
    thermocouple and its sublimation rate the chamber's vapour load. Limits: freezing and
    secondary drying are not modelled (the product is taken as frozen at the start).

References
----------
.. [1] Specific oxygen uptake of CHO cells, 0.2-0.4 pmol/(cell h): P.-A. Ruffieux,
   U. von Stockar, I. W. Marison, "Measurement of volumetric (OUR) and determination of
   specific (qO2) oxygen uptake rates in animal cell cultures", J. Biotechnol. 63 (1998)
   85-95.
"""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from phactory.control.plant.channels import Channel, Value
from phactory.control.plant.equipment import Contents, EquipmentModel

__all__ = [
    "COUPLINGS",
    "CHOCoupling",
    "IVTCoupling",
    "LyophilisationCoupling",
    "ProcessCoupling",
]

#: Specific oxygen uptake of CHO cells [mmol/(L h) per 1e6 cells/mL].
Q_O2 = 0.3


class ProcessCoupling(EquipmentModel):
    """A process model driven by the plant (see the module docstring).

    The channels exist from the start (tags are static); their values are zero until the
    process starts. :meth:`start` begins a run, :meth:`stop` ends it (values stay).
    """

    model: ClassVar[str]
    feature = "process"

    def __init__(self) -> None:
        self.active = False
        self.t_h = 0.0  # process time [h]

    @abstractmethod
    def start(self, given: Mapping[str, object], c: Contents, duration_h: float) -> None:
        """Begin a run with model parameters ``given`` (text with units or floats)."""

    def stop(self) -> None:
        """End the run; the last values stay readable."""
        self.active = False

    @abstractmethod
    def report(self) -> dict[str, float]:
        """The process's results so far (the model's CQAs as they stand)."""

    #: Names and units of :meth:`report`'s values.
    REPORTS: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def known_parameters(cls) -> frozenset[str]:
        """Names of the model's parameters (recipe parameters with these names pass)."""
        from phactory.process.registry import get_model

        return frozenset(get_model(cls.model).parameter_names())


class CHOCoupling(ProcessCoupling):
    """Fed-batch CHO culture stepped with the achieved temperature and pH.

    Parameters
    ----------
    interval_s
        Plant time between two integrations of the model [s].
    """

    model = "cho_fed_batch"
    REPORTS = (
        ("titre", "g/L"),
        ("vcd", "1/nL"),
        ("peak_vcd", "1/nL"),
        ("peak_ammonia", "mmol/L"),
        ("final_lactate", "mmol/L"),
        ("culture_time_h", "h"),
    )

    def __init__(self, interval_s: float = 600.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.p: dict[str, float] = {}
        self.y = [0.0] * 7
        self._pending = 0.0
        self._t_int = 0.0  # integral of temperature over the pending time [degC s]
        self._ph_int = 0.0
        self.peak_vcd = 0.0
        self.peak_ammonia = 0.0

    def channels(self) -> list[Channel]:
        f = self.feature
        return [
            Channel("VCD", "in", "REAL", "1/nL", 0.0, 60.0,
                    "viable cell density (1e6 cells/mL), at-line", f),
            Channel("TITRE", "in", "REAL", "g/L", 0.0, 20.0, "product titre, at-line", f),
            Channel("GLC", "in", "REAL", "mmol/L", 0.0, 200.0, "glucose, at-line", f),
            Channel("LAC", "in", "REAL", "mmol/L", 0.0, 200.0, "lactate, at-line", f),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        return {"VCD": 0.05, "TITRE": 0.01, "GLC": 0.1, "LAC": 0.1}.get(name, 0.0)

    def truth(self, c: Contents) -> dict[str, Value]:
        _, x, g, _, lac, _, titer = self.y
        return {"VCD": x, "TITRE": titer, "GLC": g, "LAC": lac}

    def start(self, given: Mapping[str, object], c: Contents, duration_h: float) -> None:
        import scipy.integrate  # noqa: F401 - loaded here, not in the first scan that needs it

        from phactory.process.models.cho_fed_batch import CHOFedBatch
        from phactory.process.parameters import resolve_parameters

        params = dict(given)
        if c.volume_l > 0.1 * c.capacity_l and "initial_volume" not in params:
            params["initial_volume"] = c.volume_l
        elif "initial_volume" not in params:
            # A manual transfer put the inoculated medium in: the plant does not see it, so
            # the vessel is taken as filled to 75 % of its capacity.
            params["initial_volume"] = 0.75 * c.capacity_l
        self.p = resolve_parameters(CHOFedBatch.parameters, params)
        p = self.p
        self.y = [p["initial_volume"], p["seed_density"], p["glucose_0"], p["glutamine_0"],
                  0.0, 0.5, 0.0]  # fmt: skip
        c.volume_l = p["initial_volume"]
        self.t_h = 0.0
        self._pending = self._t_int = self._ph_int = 0.0
        self.peak_vcd, self.peak_ammonia = self.y[1], self.y[5]
        self.active = True
        self._disturb(c)

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        if not self.active:
            return
        self._pending += dt
        self._t_int += c.temperature_c * dt
        self._ph_int += c.ph * dt
        if self._pending >= self.interval_s:
            self._integrate(
                self._pending, self._t_int / self._pending, self._ph_int / self._pending
            )
            self._pending = self._t_int = self._ph_int = 0.0
            c.volume_l = self.y[0]
            # The culture's acid production and oxygen uptake change over hours: held
            # between two integrations.
            self._disturb(c)

    def _rates(self, temp: float, ph: float) -> dict[str, float]:
        from phactory.process.models.cho_fed_batch import CHOFedBatch

        return CHOFedBatch.rates({**self.p, "ph_setpoint": ph}, temp, self.y)

    def _disturb(self, c: Contents) -> None:
        x = max(self.y[1], 0.0)
        r = self._rates(c.temperature_c, c.ph)
        c.acid_mmol_l_s = r["q_lac"] * x * 1e9 / 3600.0
        c.our_mmol_l_s = Q_O2 * x / 3600.0

    def _integrate(self, dt_s: float, temp: float, ph: float) -> None:
        """Integrate the mass balances over ``dt_s`` at ``temp`` [degC] and ``ph``."""
        from scipy.integrate import solve_ivp

        from phactory.process.models.cho_fed_batch import CHOFedBatch

        p = {**self.p, "ph_setpoint": ph}
        t0, t1 = self.t_h, self.t_h + dt_s / 3600.0
        feed = p["feed_rate"] * p["initial_volume"] / 24.0  # [L/h]
        # The model's own piecewise integration: split at the start of feeding.
        cuts = [t0, *([p["feed_start"]] if t0 < p["feed_start"] < t1 else []), t1]
        y = list(self.y)
        for a, b in itertools.pairwise(cuts):
            f = feed if a >= p["feed_start"] else 0.0

            def rhs(t: float, yy: Any, f: float = f) -> list[float]:
                return CHOFedBatch.balances(p, temp, f, yy)

            sol = solve_ivp(rhs, (a, b), y, method="LSODA", rtol=1e-7, atol=1e-9)
            if sol.status != 0:
                raise ArithmeticError(f"cho_fed_batch coupling: {sol.message}")
            y = [max(float(v), 0.0) for v in sol.y[:, -1]]
        self.y = y
        self.t_h = t1
        self.peak_vcd = max(self.peak_vcd, y[1])
        self.peak_ammonia = max(self.peak_ammonia, y[5])

    def report(self) -> dict[str, float]:
        return {
            "titre": self.y[6],
            "vcd": self.y[1],
            "peak_vcd": self.peak_vcd,
            "peak_ammonia": self.peak_ammonia,
            "final_lactate": self.y[4],
            "culture_time_h": self.t_h,
        }


class IVTCoupling(ProcessCoupling):
    """In-vitro transcription followed along its trajectory (see the module docstring)."""

    model = "ivt"
    REPORTS = (
        ("rna_yield", "g/L"),
        ("ntp_conversion", ""),
        ("uncontrolled_ph", ""),
        ("reaction_time_h", "h"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._t: list[float] = [0.0]
        self._rna: list[float] = [0.0]
        self._h: list[float] = [0.0]
        self._ph: list[float] = [7.5]
        self._ntp: list[float] = [1.0]
        self.rna = 0.0

    def channels(self) -> list[Channel]:
        return [
            Channel("RNA", "in", "REAL", "g/L", 0.0, 20.0, "mRNA concentration, at-line (HPLC)",
                    self.feature),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        return 0.02

    def truth(self, c: Contents) -> dict[str, Value]:
        return {"RNA": self.rna}

    def start(self, given: Mapping[str, object], c: Contents, duration_h: float) -> None:
        import numpy as np

        from phactory.process.models.ivt import IVT
        from phactory.process.parameters import resolve_parameters

        params = dict(given)
        params.setdefault("reaction_time", min(max(duration_h, 0.25), 24.0))
        values = resolve_parameters(IVT.parameters, params)
        grid = np.linspace(0.0, values["reaction_time"], 241)
        res = IVT().simulate(values, times=grid)
        self._t = [float(v) for v in res.time]
        self._rna = [float(v) for v in res.columns["rna_yield"]]
        self._h = [float(v) for v in res.columns["h_total"]]
        self._ph = [float(v) for v in res.columns["ph"]]
        self._ntp = [float(v) for v in res.columns["ntp_total"]]
        self.t_h = 0.0
        self.rna = 0.0
        self.active = True

    def _at(self, series: list[float], t_h: float) -> float:
        ts = self._t
        if t_h <= ts[0]:
            return series[0]
        if t_h >= ts[-1]:
            return series[-1]
        lo, hi = 0, len(ts) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ts[mid] <= t_h:
                lo = mid
            else:
                hi = mid
        w = (t_h - ts[lo]) / (ts[hi] - ts[lo])
        return series[lo] + w * (series[hi] - series[lo])

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        if not self.active:
            c.acid_mmol_l_s = 0.0
            return
        h0 = self._at(self._h, self.t_h)
        self.t_h += dt / 3600.0
        h1 = self._at(self._h, self.t_h)
        # Protons released [mol/L] over the step, as acid load [mmol/(L s)].
        c.acid_mmol_l_s = max(h1 - h0, 0.0) * 1000.0 / dt if dt > 0 else 0.0
        self.rna = self._at(self._rna, self.t_h)

    def report(self) -> dict[str, float]:
        ntp0 = self._ntp[0] if self._ntp[0] > 0 else 1.0
        return {
            "rna_yield": self.rna,
            "ntp_conversion": 1.0 - self._at(self._ntp, self.t_h) / ntp0,
            "uncontrolled_ph": self._at(self._ph, self.t_h),
            "reaction_time_h": self.t_h,
        }


class LyophilisationCoupling(ProcessCoupling):
    """Primary drying stepped at the actual shelf temperature and chamber pressure.

    Parameters
    ----------
    vials
        Number of vials loaded (scales the vapour load on the chamber).
    """

    model = "lyophilisation"
    REPORTS = (
        ("dried_fraction", ""),
        ("primary_drying_time", "h"),
        ("max_product_temperature", "degC"),
        ("collapse_margin", "K"),
    )

    def __init__(self, vials: int = 10_000) -> None:
        super().__init__()
        self.vials = vials
        self.p: dict[str, float] = {}
        self.length = 0.0  # dried-layer thickness [cm]
        self.lpr0 = 1.0
        self.geom = 0.0
        self.max_product = -math.inf
        self.drying_h = 0.0
        self.done = False
        self.pressure_mtorr = 760_000.0  # read from the chamber each step

    def channels(self) -> list[Channel]:
        return [
            Channel("DRIED", "in", "REAL", "%", 0.0, 100.0,
                    "fraction of ice sublimed (process model, not a measurement)", self.feature),
        ]  # fmt: skip

    def truth(self, c: Contents) -> dict[str, Value]:
        return {"DRIED": 100.0 * self.length / self.lpr0}

    def start(self, given: Mapping[str, object], c: Contents, duration_h: float) -> None:
        from phactory.process.models.lyophilisation import (
            RHO_ICE,
            RHO_SOLUTE,
            RHO_SOLUTION,
            Lyophilisation,
        )
        from phactory.process.parameters import resolve_parameters

        self.p = resolve_parameters(Lyophilisation.parameters, given)
        p = self.p
        ap = Lyophilisation.product_area(p)
        s = p["solid_fraction"]
        self.geom = (1.0 - s * (RHO_SOLUTION - RHO_ICE) / RHO_SOLUTE) / (
            (1.0 - s * RHO_SOLUTION / RHO_SOLUTE) * ap * RHO_ICE
        )
        self.lpr0 = Lyophilisation.initial_fill_height(p)
        self.length = 0.0
        self.max_product = -math.inf
        self.drying_h = 0.0
        self.done = False
        self.t_h = 0.0
        self.active = True

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        from phactory.process.models.lyophilisation import Lyophilisation

        c.sublimation_g_h = 0.0
        if not self.active:
            c.product_temperature_c = None
            return
        self.t_h += dt / 3600.0
        torr = self.pressure_mtorr / 1000.0
        if self.done or torr >= 1.0:
            c.product_temperature_c = None
            return
        n = max(1, math.ceil(dt / 60.0))
        h = dt / n
        p = {**self.p, "chamber_pressure": max(torr, 1e-3)}
        tbot = c.temperature_c
        for _ in range(n):
            _, dmdt, _, _, tbot = Lyophilisation._front(p, self.length, c.temperature_c, self.lpr0)
            if dmdt <= 0.0:
                # The chamber is above the ice's vapour pressure at the shelf temperature:
                # nothing sublimes (the quasi-steady balance has no physical root there)
                # and the product sits at the shelf temperature.
                tbot = c.temperature_c
                c.sublimation_g_h = 0.0
                continue
            self.length = min(self.length + dmdt * self.geom * h / 3600.0, self.lpr0)
            self.drying_h += h / 3600.0
            self.max_product = max(self.max_product, tbot)
            c.sublimation_g_h = dmdt * self.vials
            if self.length >= self.lpr0:
                self.done = True
                c.sublimation_g_h = 0.0
                break
        c.product_temperature_c = None if self.done else tbot

    def report(self) -> dict[str, float]:
        top = self.max_product if math.isfinite(self.max_product) else float("nan")
        return {
            "dried_fraction": self.length / self.lpr0,
            "primary_drying_time": self.drying_h,
            "max_product_temperature": top,
            "collapse_margin": self.p.get("collapse_temperature", -15.0) - top,
        }


#: Couplings by process-model name.
COUPLINGS: dict[str, type[ProcessCoupling]] = {
    c.model: c for c in (CHOCoupling, IVTCoupling, LyophilisationCoupling)
}
