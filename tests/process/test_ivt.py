"""mRNA in-vitro transcription: published design-space yields, mass balances, equilibria."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.process import get_model
from phactory.process.models.ivt import CHAIN_LENGTH, RNA_MOLAR_MASS

# 6-hour RNA yields [g/L] published with van de Berg et al. (2021) in the authors' repository
# dv516/RNA-transcription-modelling-and-DS, file 3d_DesSpace_new.csv (commit eb7c689), a
# 41 x 41 x 11 grid: Mg = linspace(0.01, 0.15, 41) [M] (index i), NTP = linspace(0.01, 0.15,
# 41) [M] (index j), T7RNAP = linspace(0.5, 1.5, 11) (index k), row = 451 i + 11 j + k.
# The points below avoid the few rows where the authors' fixed-step solver is visibly noisy.
PUBLISHED = [
    # (i, j, k, yield [g/L])
    (0, 0, 0, 0.1401858602746913762),
    (0, 0, 5, 0.2796952976743483088),
    (0, 0, 10, 0.4185754324585769792),
    (0, 1, 0, 0.03728158628330003471),
    (0, 1, 10, 0.1123485769793462902),
    (1, 0, 0, 0.4016129437319555517),
    (1, 0, 10, 1.112388361156169569),
    (20, 10, 5, 2.986098567124179315),
    (20, 10, 10, 4.130967494840189325),
    (20, 11, 0, 1.624072902319526834),
    (20, 11, 3, 2.497519120284657390),
    (20, 11, 5, 3.034724422686742695),
    (20, 11, 8, 3.768621807174199478),
    (20, 11, 10, 4.207236315893393197),
    (20, 12, 0, 1.585945592857504138),
]
MG = np.linspace(0.01, 0.15, 41)
NTP = np.linspace(0.01, 0.15, 41)
T7 = np.linspace(0.5, 1.5, 11)

# Akama et al. (2012) log10 association constants, written out independently of the model.
LOGK = {
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


@pytest.mark.parametrize(("i", "j", "k", "published"), PUBLISHED)
def test_reproduces_published_design_space_yields(i: int, j: int, k: int, published: float) -> None:
    model = get_model("ivt")
    result = model.simulate({"mg_total": MG[i], "ntp_total": NTP[j], "t7rnap": T7[k]})
    assert result.cqas["rna_yield"] == pytest.approx(published, rel=0.01)


def _complexes(mg: float, h: float, ntp: float, ppi: float, hepes: float) -> dict[str, float]:
    k = {n: 10.0**v for n, v in LOGK.items()}
    c = {
        "HNTP": k["HNTP"] * h * ntp,
        "MgNTP": k["MgNTP"] * mg * ntp,
        "HPPi": k["HPPi"] * h * ppi,
        "MgPPi": k["MgPPi"] * mg * ppi,
        "HEPESH": k["HEPESH"] * h * hepes,
    }
    c["Mg2NTP"] = k["Mg2NTP"] * mg * c["MgNTP"]
    c["MgHNTP"] = k["MgHNTP"] * mg * c["HNTP"]
    c["Mg2PPi"] = k["Mg2PPi"] * mg * c["MgPPi"]
    c["H2PPi"] = k["H2PPi"] * h * c["HPPi"]
    c["MgHPPi"] = k["MgHPPi"] * mg * c["HPPi"]
    return c


def test_free_species_satisfy_every_mass_balance() -> None:
    ts = get_model("ivt").simulate({"mg_total": 0.06, "ntp_total": 0.05}).timeseries
    for _, row in ts.iloc[::10].iterrows():
        mg, ntp, ppi, hepes = row["mg_free"], row["ntp_free"], row["ppi_free"], row["hepes_free"]
        h = 10.0 ** -row["ph"]
        c = _complexes(mg, h, ntp, ppi, hepes)
        mg_tot = (
            mg
            + c["MgNTP"]
            + 2 * c["Mg2NTP"]
            + c["MgHNTP"]
            + c["MgPPi"]
            + 2 * c["Mg2PPi"]
            + c["MgHPPi"]
        )
        ntp_tot = ntp + c["HNTP"] + c["MgNTP"] + c["Mg2NTP"] + c["MgHNTP"]
        ppi_tot = ppi + c["MgPPi"] + c["Mg2PPi"] + c["HPPi"] + c["H2PPi"] + c["MgHPPi"]
        h_tot = h + c["HNTP"] + c["MgHNTP"] + c["HPPi"] + 2 * c["H2PPi"] + c["MgHPPi"] + c["HEPESH"]
        assert mg_tot == pytest.approx(row["mg_total"], rel=1e-9)
        assert ntp_tot == pytest.approx(row["ntp_total"], rel=1e-9)
        assert ppi_tot == pytest.approx(row["ppi_total"], rel=1e-9)
        assert h_tot == pytest.approx(row["h_total"], rel=1e-9)
        assert hepes + c["HEPESH"] == pytest.approx(0.04, rel=1e-12)
    assert ts["ph"].iloc[0] == pytest.approx(7.5, abs=1e-9)


def _assert_balances(ts: object) -> None:
    import pandas as pd

    assert isinstance(ts, pd.DataFrame)
    first = ts.iloc[0]
    made = ts["rna"] + ts["rna_degraded"]  # RNA ever transcribed [mol/L]
    ntp_used = first["ntp_total"] - ts["ntp_total"]
    np.testing.assert_allclose(ntp_used, CHAIN_LENGTH * made, rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(
        ts["ppi_total"] - first["ppi_total"], (CHAIN_LENGTH - 1) * made, rtol=1e-8, atol=1e-15
    )
    np.testing.assert_allclose(
        ts["h_total"] - first["h_total"], (CHAIN_LENGTH - 1) * made, rtol=1e-8, atol=1e-15
    )
    assert (ts["mg_total"] == first["mg_total"]).all()
    np.testing.assert_allclose(ts["rna_yield"], ts["rna"] * RNA_MOLAR_MASS)
    assert (ts["rna"] >= -1e-15).all() and (ts["rna_degraded"] >= -1e-15).all()
    # Protons released by transcription acidify the HEPES buffer monotonically.
    assert (np.diff(ts["ph"].to_numpy()) <= 1e-9).all()


def test_mass_balance_closes_at_nominal_conditions() -> None:
    _assert_balances(get_model("ivt").simulate().timeseries)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    mg=st.floats(0.01, 0.15),
    ntp=st.floats(0.01, 0.15),
    t7=st.floats(0.1, 2.0),
)
def test_mass_balance_closes_for_any_cpps_within_bounds(mg: float, ntp: float, t7: float) -> None:
    result = get_model("ivt").simulate({"mg_total": mg, "ntp_total": ntp, "t7rnap": t7})
    _assert_balances(result.timeseries)
    assert 0.0 <= result.cqas["ntp_conversion"] <= 1.0


def test_more_enzyme_gives_more_rna() -> None:
    model = get_model("ivt")
    low = model.simulate({"t7rnap": 0.5}).cqas["rna_yield"]
    high = model.simulate({"t7rnap": 1.5}).cqas["rna_yield"]
    assert high > low > 0


def test_solver_failure_is_a_clear_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.integrate
    from scipy.integrate._ivp.ivp import OdeResult

    from phactory.process import SimulationError

    def failing(*args: object, **kwargs: object) -> OdeResult:
        return OdeResult(
            status=-1, message="step size too small", t=np.zeros(1), y=np.zeros((7, 1))
        )

    # The model imports the integrator when it runs (not at import: listing models is fast).
    monkeypatch.setattr(scipy.integrate, "solve_ivp", failing)
    with pytest.raises(SimulationError, match="step size too small"):
        get_model("ivt").simulate()


def test_numerical_errors_inside_the_model_become_simulation_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from phactory.process import SimulationError
    from phactory.process.models import ivt

    def broken(*args: object, **kwargs: object) -> object:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(ivt, "speciate", broken)
    with pytest.raises(SimulationError, match="ZeroDivisionError"):
        get_model("ivt").simulate()
