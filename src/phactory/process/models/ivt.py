"""mRNA in-vitro transcription (IVT): van de Berg, Kis et al.'s quality-by-design model.

T7 RNA polymerase builds RNA from nucleoside triphosphates (NTP), releasing pyrophosphate
(PPi) and protons. Magnesium, NTP, PPi, protons and the HEPES buffer form complexes whose
association equilibria are fast compared with transcription, so the model integrates the
*total* concentrations and recovers the *free* species from the equilibria at every instant
(a differential-algebraic system, index 1).

Kinetics (concentrations in [mol/L], time in [h]):

* transcription ``V_tr = k_app [T7] [Mg] [MgNTP] / (K2 [MgNTP] + K1 [Mg] + 1)``,
* acid-catalysed degradation ``V_deg = k_ac [H+] [RNA]``,
* ``d[RNA]/dt = V_tr - V_deg``, ``d[NTP]tot/dt = -N V_tr``,
  ``d[PPi]tot/dt = d[H]tot/dt = (N - 1) V_tr``, ``d[T7]/dt = d[Mg]tot/dt = 0``,

with chain length ``N`` = 10 000 nt. Equilibria (log10 association constants, [L/mol]) from
Akama et al. [2]_: HNTP 6.95, MgNTP 4.42, Mg2NTP 1.69, MgHNTP 1.49, MgPPi 5.42, Mg2PPi 2.33,
HPPi 8.94, H2PPi 6.13, MgHPPi 3.05, and HEPES-H 7.5 (pKa of HEPES); 0.04 M HEPES; the initial
total proton concentration is the one that gives pH 7.5 at the initial composition.

Substituting the ten complex equilibria into the five component balances leaves two
equations in free [Mg] and free [H+] (free NTP, PPi and HEPES then follow explicitly), solved
here by Newton's method in logarithmic variables. The enzyme concentration is in the
*relative* units of the source's design of experiments (1 = the reference enzyme loading;
the source labels the same axis as "x 1e-8 M" in one figure and "x 5e-7 M" in another, so no
absolute unit is claimed). RNA yield [g/L] uses an RNA molar mass of 5e6 g/mol.

The reference check (``tests/process/test_ivt.py``) compares 6-hour yields with the design
space the authors published with the paper (``3d_DesSpace_new.csv`` in their code repository
[3]_, computed with fixed-step RK4 and fsolve from the same equations and parameters).

References
----------
.. [1] D. van de Berg, Z. Kis, C. F. Behmer, K. Samnuan, A. K. Blakney, C. Kontoravdi,
   R. Shattock, N. Shah, "Quality by design modelling to support rapid RNA vaccine production
   against emerging infectious diseases", npj Vaccines 6 (2021) 65.
.. [2] S. Akama, M. Yamamura, T. Kigawa, "A multiphysics model of in vitro transcription
   coupling enzymatic reaction and precipitation formation", Biophys. J. 102 (2012) 221-230.
.. [3] https://github.com/dv516/RNA-transcription-modelling-and-DS (code and design-space
   data accompanying [1]).
"""

from __future__ import annotations

import math

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

__all__ = ["IVT", "Speciation", "speciate"]

# log10 association constants [L/mol] (Akama et al. 2012; HEPES pKa 7.5)
LOG_K = {
    "HNTP": 6.95,
    "MgNTP": 4.42,
    "Mg2NTP": 1.69,
    "MgHNTP": 1.49,
    "MgPPi": 5.42,
    "Mg2PPi": 2.33,
    "HPPi": 8.94,
    "H2PPi": 6.13,
    "MgHPPi": 3.05,
    "HEPESH": 7.5,
}
HEPES_TOTAL = 0.04  # [mol/L]
INITIAL_PH = 7.5
CHAIN_LENGTH = 10_000  # [nt]
RNA_MOLAR_MASS = 5e6  # [g/mol]
PPI_INITIAL = 1e-18  # [mol/L]; the source starts from a tiny non-zero PPi for stability

# Overall formation constants of each complex from its free components.
_A = 10 ** LOG_K["MgNTP"]  # MgNTP  = _A  Mg N
_B = _A * 10 ** LOG_K["Mg2NTP"]  # Mg2NTP = _B  Mg^2 N
_C = 10 ** LOG_K["HNTP"]  # HNTP   = _C  H N
_D = _C * 10 ** LOG_K["MgHNTP"]  # MgHNTP = _D  H Mg N
_E = 10 ** LOG_K["MgPPi"]  # MgPPi  = _E  Mg P
_F = _E * 10 ** LOG_K["Mg2PPi"]  # Mg2PPi = _F  Mg^2 P
_G = 10 ** LOG_K["HPPi"]  # HPPi   = _G  H P
_H2 = _G * 10 ** LOG_K["H2PPi"]  # H2PPi  = _H2 H^2 P
_K = _G * 10 ** LOG_K["MgHPPi"]  # MgHPPi = _K  H Mg P
_W = 10 ** LOG_K["HEPESH"]  # HEPES-H = _W H HEPES


class Speciation(tuple[float, float, float, float, float]):
    """Free concentrations [mol/L]: (Mg, H, NTP, PPi, HEPES)."""

    __slots__ = ()

    @property
    def mg_ntp(self) -> float:
        """Free MgNTP complex [mol/L]."""
        return _A * self[0] * self[2]


def _totals(
    mg: float, h: float, ntp_t: float, ppi_t: float, hepes_t: float
) -> tuple[float, float, float, float, float, float, float, float]:
    """Totals of Mg and H, their log-derivatives, and free NTP, PPi (internal)."""
    # Bound Mg and H per free NTP / PPi, and the NTP / PPi binding polynomials.
    n_mg = _A * mg + 2 * _B * mg * mg + _D * h * mg
    n_h = _C * h + _D * h * mg
    p_mg = _E * mg + 2 * _F * mg * mg + _K * h * mg
    p_h = _G * h + 2 * _H2 * h * h + _K * h * mg
    dn = 1 + _A * mg + _B * mg * mg + _C * h + _D * h * mg
    dp = 1 + _E * mg + _F * mg * mg + _G * h + _H2 * h * h + _K * h * mg
    ntp = ntp_t / dn
    ppi = ppi_t / dp
    he = hepes_t * _W * h / (1 + _W * h)
    mg_tot = mg + ntp * n_mg + ppi * p_mg
    h_tot = h + ntp * n_h + ppi * p_h + he
    # Derivatives with respect to ln(mg) and ln(h) (operators M d/dM and H d/dH); note that
    # M d(dn)/dM = _A M + 2 _B M^2 + _D H M, which equals n_mg only because Mg2NTP carries two
    # Mg; the two expressions are kept separate below for clarity.
    dn_m = _A * mg + 2 * _B * mg * mg + _D * h * mg
    dn_h = _C * h + _D * h * mg
    dp_m = _E * mg + 2 * _F * mg * mg + _K * h * mg
    dp_h = _G * h + 2 * _H2 * h * h + _K * h * mg
    ntp_m, ntp_h = -ntp * dn_m / dn, -ntp * dn_h / dn
    ppi_m, ppi_h = -ppi * dp_m / dp, -ppi * dp_h / dp
    mgt_m = (
        mg
        + ntp_m * n_mg
        + ntp * (_A * mg + 4 * _B * mg * mg + _D * h * mg)
        + ppi_m * p_mg
        + ppi * (_E * mg + 4 * _F * mg * mg + _K * h * mg)
    )
    mgt_h = ntp_h * n_mg + ntp * (_D * h * mg) + ppi_h * p_mg + ppi * (_K * h * mg)
    ht_h = (
        h
        + ntp_h * n_h
        + ntp * (_C * h + _D * h * mg)
        + ppi_h * p_h
        + ppi * (_G * h + 4 * _H2 * h * h + _K * h * mg)
        + hepes_t * _W * h / (1 + _W * h) ** 2
    )
    ht_m = ntp_m * n_h + ntp * (_D * h * mg) + ppi_m * p_h + ppi * (_K * h * mg)
    return mg_tot, h_tot, mgt_m, mgt_h, ht_m, ht_h, ntp, ppi


def speciate(
    mg_t: float,
    h_t: float,
    ntp_t: float,
    ppi_t: float,
    hepes_t: float = HEPES_TOTAL,
    guess: tuple[float, float] | None = None,
) -> Speciation:
    """Free concentrations from total concentrations (all [mol/L]).

    Parameters
    ----------
    mg_t, h_t, ntp_t, ppi_t, hepes_t
        Total magnesium, exchangeable protons, NTP, pyrophosphate and HEPES [mol/L].
    guess
        Starting (free Mg, free H) [mol/L]; the previous solution along a trajectory.

    Returns
    -------
    Speciation
        Free (Mg, H, NTP, PPi, HEPES) [mol/L].

    Raises
    ------
    SimulationError
        If Newton's method does not converge (the balances have a unique positive solution,
        so this signals totals that are not physical, e.g. negative).
    """
    if min(mg_t, h_t) <= 0 or min(ntp_t, ppi_t) < 0:
        raise SimulationError(
            f"ivt: non-physical totals Mg={mg_t:.3g}, H={h_t:.3g}, NTP={ntp_t:.3g}, "
            f"PPi={ppi_t:.3g} mol/L"
        )
    mg, h = guess if guess is not None else (mg_t * 0.1, h_t * 1e-3)
    u, v = math.log(max(mg, 1e-300)), math.log(max(h, 1e-300))
    lmg, lh = math.log(mg_t), math.log(h_t)
    for _ in range(200):
        mg, h = math.exp(u), math.exp(v)
        mgt, ht, a, b, c, d, ntp, ppi = _totals(mg, h, ntp_t, ppi_t, hepes_t)
        r1 = math.log(mgt) - lmg
        r2 = math.log(ht) - lh
        j11, j12, j21, j22 = a / mgt, b / mgt, c / ht, d / ht
        det = j11 * j22 - j12 * j21
        du = -(r1 * j22 - r2 * j12) / det
        dv = -(j11 * r2 - j21 * r1) / det
        # Damped: a full step of several e-folds overshoots when complexes switch dominance.
        scale = min(1.0, 2.0 / max(abs(du), abs(dv), 1e-300))
        u += scale * du
        v += scale * dv
        if abs(r1) < 1e-13 and abs(r2) < 1e-13:
            break
    else:
        raise SimulationError(
            f"ivt: speciation did not converge for totals Mg={mg_t:.4g}, H={h_t:.4g}, "
            f"NTP={ntp_t:.4g}, PPi={ppi_t:.4g} mol/L"
        )
    mg, h = math.exp(u), math.exp(v)
    _, _, _, _, _, _, ntp, ppi = _totals(mg, h, ntp_t, ppi_t, hepes_t)
    return Speciation((mg, h, ntp, ppi, hepes_t / (1 + _W * h)))


def initial_proton_total(mg_t: float, ntp_t: float, ppi_t: float, hepes_t: float) -> float:
    """Total exchangeable protons [mol/L] giving pH 7.5 at the initial composition."""
    h = 10**-INITIAL_PH
    u = math.log(mg_t * 0.1)
    lmg = math.log(mg_t)
    for _ in range(200):
        mgt, _, a, _, _, _, _, _ = _totals(math.exp(u), h, ntp_t, ppi_t, hepes_t)
        step = (math.log(mgt) - lmg) / (a / mgt)
        u -= max(min(step, 2.0), -2.0)
        if abs(step) < 1e-14:
            break
    else:
        raise SimulationError("ivt: initial speciation did not converge")
    return _totals(math.exp(u), h, ntp_t, ppi_t, hepes_t)[1]


class IVT(UnitOperationModel):
    """Batch mRNA in-vitro transcription (van de Berg, Kis et al. 2021).

    Parameters
    ----------
    method : str
        ``scipy.integrate.solve_ivp`` method; LSODA switches to a stiff (BDF) formula on its
        own when the proton-driven degradation makes the system stiff.
    rtol : float
        Relative tolerance of the integrator [-].

    Notes
    -----
    CPPs: initial total Mg, initial total NTP and T7 RNA polymerase loading; reaction time
    is a parameter too (6 h batch by default). CQA: RNA yield [g/L], accepted at >= 1.5 g/L
    (the design-space criterion of the source). Kinetic constants are the published fit:
    ``k_app`` 4.34, ``K1`` 5.55e5, ``K2`` 1.94e5, ``k_ac`` 1.2e6.

    References
    ----------
    van de Berg et al. 2021 [1]_, Akama et al. 2012 [2]_ (see the module docstring).
    """

    name = "ivt"
    title = "mRNA in-vitro transcription (van de Berg, Kis et al. 2021)"
    parameters = (
        Parameter("mg_total", "mol/L", 0.075, 0.01, 0.15, "initial total Mg2+", cpp=True),
        Parameter("ntp_total", "mol/L", 0.04, 0.01, 0.15, "initial total NTP", cpp=True),
        Parameter(
            "t7rnap",
            "",
            1.0,
            0.1,
            2.0,
            "T7 RNA polymerase loading relative to the reference loading",
            cpp=True,
        ),
        Parameter("reaction_time", "h", 6.0, 0.25, 24.0, "batch duration"),
        Parameter(
            "k_app",
            "1/h",
            4.34,
            0.1,
            50.0,
            "apparent transcription rate constant",
            uncertainty=0.10,
        ),
        Parameter("k1", "L/mol", 5.55e5, 0.0, 5e6, "Mg inhibition constant K1", uncertainty=0.10),
        Parameter(
            "k2", "L/mol", 1.94e5, 0.0, 5e6, "MgNTP saturation constant K2", uncertainty=0.10
        ),
        Parameter(
            "k_ac",
            "L/mol/h",
            1.2e6,
            0.0,
            1e8,
            "acid-catalysed degradation constant",
            uncertainty=0.10,
        ),
    )
    states = (
        Variable("rna", "mol/L", "total RNA", nonnegative=True),
        Variable("ppi_total", "mol/L", "total pyrophosphate", nonnegative=True),
        Variable("ntp_total", "mol/L", "total NTP", nonnegative=True),
        Variable("h_total", "mol/L", "total exchangeable protons"),
        Variable("t7rnap", "", "T7 RNA polymerase (relative)", nonnegative=True),
        Variable("mg_total", "mol/L", "total magnesium", nonnegative=True),
        Variable(
            "rna_degraded",
            "mol/L",
            "cumulative RNA degraded (book-keeping state)",
            nonnegative=True,
        ),
    )
    outputs = (
        Variable("rna_yield", "g/L", "RNA mass concentration", nonnegative=True),
        Variable("mg_free", "mol/L", "free Mg2+", nonnegative=True),
        Variable("ntp_free", "mol/L", "free NTP4-", nonnegative=True),
        Variable("mgntp", "mol/L", "MgNTP complex", nonnegative=True),
        Variable("ppi_free", "mol/L", "free PPi4-", nonnegative=True),
        Variable("hepes_free", "mol/L", "free (deprotonated) HEPES", nonnegative=True),
        Variable("ph", "", "pH = -log10 [H+]"),
        Variable("v_tr", "mol/L/h", "transcription rate"),
        Variable("v_deg", "mol/L/h", "degradation rate"),
    )
    cqas = (
        QualityAttribute("rna_yield", "g/L", "RNA yield at the end of the batch", lower=1.5),
        QualityAttribute("final_ph", "", "pH at the end of the batch"),
        QualityAttribute("ntp_conversion", "", "fraction of NTP incorporated"),
    )

    def __init__(self, method: str = "LSODA", rtol: float = 1e-7) -> None:
        self.method = method
        self.rtol = rtol

    def _check_config(self) -> None:
        if self.method not in ("LSODA", "BDF", "Radau", "RK45", "DOP853"):
            raise ModelConfigError(f"ivt: unsupported integration method {self.method!r}")
        if not (isinstance(self.rtol, float) and 1e-12 <= self.rtol <= 1e-2):
            raise ModelConfigError(f"ivt: rtol must be a float in [1e-12, 1e-2], got {self.rtol!r}")

    def _run(self, p: dict[str, float], times: FloatArray | None) -> RunOutput:
        from scipy.integrate import solve_ivp

        mg0, ntp0, t7 = p["mg_total"], p["ntp_total"], p["t7rnap"]
        k_app, k1, k2, k_ac = p["k_app"], p["k1"], p["k2"], p["k_ac"]
        h0 = initial_proton_total(mg0, ntp0, PPI_INITIAL, HEPES_TOTAL)
        n = CHAIN_LENGTH
        last: list[tuple[float, float]] = []

        def rates(y: FloatArray | list[float]) -> tuple[float, float, Speciation]:
            rna, ppi_t, ntp_t, h_t, enz, mg_t = (float(v) for v in y[:6])
            s = speciate(
                mg_t, h_t, max(ntp_t, 0.0), max(ppi_t, 0.0), HEPES_TOTAL, last[-1] if last else None
            )
            last[:] = [(s[0], s[1])]
            mgntp = s.mg_ntp
            v_tr = k_app * enz * s[0] * mgntp / (k2 * mgntp + k1 * s[0] + 1.0)
            v_deg = k_ac * s[1] * rna
            return v_tr, v_deg, s

        def rhs(t: float, y: FloatArray) -> list[float]:
            v_tr, v_deg, _ = rates(y)
            return [v_tr - v_deg, (n - 1) * v_tr, -n * v_tr, (n - 1) * v_tr, 0.0, 0.0, v_deg]

        t_end = p["reaction_time"]
        grid = np.linspace(0.0, t_end, 61) if times is None else times[times <= t_end + 1e-12]
        y0 = [0.0, PPI_INITIAL, ntp0, h0, t7, mg0, 0.0]
        # Absolute tolerances per state: concentrations span 1e-18 (PPi) to 0.1 mol/L.
        atol = [1e-13, 1e-12, 1e-12, 1e-12, 1e-12, 1e-12, 1e-13]
        sol = solve_ivp(
            rhs, (0.0, t_end), y0, method=self.method, t_eval=grid, rtol=self.rtol, atol=atol
        )
        if sol.status != 0:
            raise SimulationError(f"ivt: integrator failed at {p}: {sol.message}")
        y = sol.y
        out = np.empty((y.shape[1], 9))
        last.clear()
        for i in range(y.shape[1]):
            v_tr, v_deg, s = rates(y[:, i])
            out[i] = (
                y[0, i] * RNA_MOLAR_MASS,
                s[0],
                s[2],
                s.mg_ntp,
                s[3],
                s[4],
                -math.log10(s[1]),
                v_tr,
                v_deg,
            )
        columns = dict(zip([v.name for v in self.states], y, strict=True))
        columns.update(zip([v.name for v in self.outputs], out.T, strict=True))
        # The CQAs are end-of-batch values: run to the end if the requested times stop short.
        reached = times is None or (len(sol.t) and sol.t[-1] >= t_end - 1e-12)
        end = columns if reached else self._run(p, None)[1]
        rna_end, ntp_end, ph_end = (float(end[k][-1]) for k in ("rna", "ntp_total", "ph"))
        cqas = {
            "rna_yield": rna_end * RNA_MOLAR_MASS,
            "final_ph": ph_end,
            "ntp_conversion": 1.0 - ntp_end / ntp0,
        }
        return sol.t, columns, cqas
