"""Solvent swap: closed-form check, VLE data, material balances, strategy comparison."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.process import ModelConfigError, get_model
from phactory.process.models.solvent_swap import SolventSwap, optimise_solvent_swap
from phactory.process.models.vle import SOLVENTS, SYSTEMS, ConstantRelativeVolatility


def closed_form(alpha: float, x0: float, xf: float) -> float:
    """S/H for a constant-volume swap, single stage, constant volatility and holdup."""
    return math.log(x0 / xf) / alpha + (alpha - 1.0) / alpha * (x0 - xf)


def test_constant_volume_reproduces_the_closed_form_reference() -> None:
    model = SolventSwap(ConstantRelativeVolatility(3.0), "constant_volume")
    s = model.solvent_to_reach(0.01, {"initial_light_fraction": 1.0})
    assert closed_form(3.0, 1.0, 0.01) == pytest.approx(2.195, abs=5e-4)
    assert s == pytest.approx(2.195, rel=0.01)


@pytest.mark.parametrize(("alpha", "x0", "xf"), [(1.5, 1.0, 0.1), (6.0, 0.8, 0.001)])
def test_closed_form_holds_for_other_volatilities(alpha: float, x0: float, xf: float) -> None:
    model = SolventSwap(ConstantRelativeVolatility(alpha), "constant_volume")
    s = model.solvent_to_reach(xf, {"initial_light_fraction": x0})
    assert s == pytest.approx(closed_form(alpha, x0, xf), rel=1e-3)


def test_simulated_composition_matches_solvent_to_reach() -> None:
    model = SolventSwap(ConstantRelativeVolatility(3.0), "constant_volume")
    s = model.solvent_to_reach(0.01)
    result = model.simulate({"solvent_ratio": s})
    assert result.timeseries["light_mole_fraction"].iloc[-1] == pytest.approx(0.01, rel=1e-4)


@pytest.mark.parametrize(
    ("solvent", "t_boil"),
    [
        ("methanol", 337.8),
        ("water", 373.15),
        ("thf", 339.1),
        ("toluene", 383.8),
    ],
)
def test_antoine_constants_give_normal_boiling_points(solvent: str, t_boil: float) -> None:
    assert SOLVENTS[solvent].boiling_point(1.01325) == pytest.approx(t_boil, abs=1.0)


def test_bubble_point_is_consistent_with_raoult() -> None:
    vle = SYSTEMS["thf-toluene"]
    y, t = vle.equilibrium(0.3, 1.01325)
    p = 0.3 * vle.light.vapour_pressure(t) + 0.7 * vle.heavy.vapour_pressure(t)
    assert p == pytest.approx(1.01325, rel=1e-9)
    assert 0.3 < y < 1.0
    assert SOLVENTS["thf"].boiling_point(1.01325) < t < SOLVENTS["toluene"].boiling_point(1.01325)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    ratio=st.floats(0.5, 8.0),
    pressure=st.floats(0.2, 1.1),
    depth=st.floats(0.2, 0.95),
    strategy=st.sampled_from(["constant_volume", "put_and_take"]),
    system=st.sampled_from(sorted(SYSTEMS)),
)
def test_material_balance_closes(
    ratio: float, pressure: float, depth: float, strategy: str, system: str
) -> None:
    model = SolventSwap(system, strategy)
    result = model.simulate(
        {"solvent_ratio": ratio, "pressure": pressure, "min_volume_fraction": depth}
    )
    ts = result.timeseries
    vle = model.vle
    end = ts.iloc[-1]
    # Liquid volume: holdup + fed - distilled (ideal mixing, distillate counted as liquid).
    assert end["volume"] == pytest.approx(
        1000.0 + end["solvent_added"] - end["distillate"], rel=1e-6
    )
    assert end["volume"] == pytest.approx(1000.0, rel=1e-6)
    assert end["solvent_added"] == pytest.approx(ratio * 1000.0, rel=1e-9)
    # Heavy solvent: what is in the still never exceeds what was fed.
    assert end["heavy_moles"] * vle.heavy.molar_volume <= end["solvent_added"] * (1 + 1e-9)
    # Light solvent only leaves.
    assert (ts["light_moles"].diff().dropna() <= 1e-9).all()
    assert 0.0 <= result.cqas["residual_light_solvent"] < 1.0


def test_put_and_take_needs_less_solvent_but_more_time() -> None:
    table = optimise_solvent_swap("methanol-water", residual_limit=0.005)
    best = table.iloc[0]
    cv = table[table["strategy"] == "constant_volume"].iloc[0]
    assert best["strategy"] == "put_and_take"
    assert best["solvent_used"] < cv["solvent_used"]
    # Deeper put-and-take cycles use less solvent.
    pt = table[table["strategy"] == "put_and_take"].sort_values("min_volume_fraction")
    assert pt["solvent_used"].is_monotonic_increasing
    # Every option meets the limit when simulated with its solvent ratio.
    for _, row in table.iterrows():
        model = SolventSwap("methanol-water", row["strategy"])
        params = {"solvent_ratio": row["solvent_ratio"]}
        if row["strategy"] == "put_and_take":
            params["min_volume_fraction"] = row["min_volume_fraction"]
        residual = model.simulate(params).cqas["residual_light_solvent"]
        assert residual == pytest.approx(0.005, rel=0.02)


def test_more_solvent_leaves_less_residue() -> None:
    model = get_model("solvent_swap_thf_toluene")
    a = model.simulate({"solvent_ratio": 1.5}).cqas["residual_light_solvent"]
    b = model.simulate({"solvent_ratio": 3.0}).cqas["residual_light_solvent"]
    assert b < a


def test_bad_configuration_is_refused_at_simulate() -> None:
    model = SolventSwap("acetone-water")  # __init__ only stores ...
    with pytest.raises(ModelConfigError, match="acetone-water"):
        model.simulate()  # ... validation happens here
    with pytest.raises(ModelConfigError, match="strategy"):
        SolventSwap(strategy="boil-dry").simulate()
