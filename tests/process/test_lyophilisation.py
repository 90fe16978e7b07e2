"""Lyophilisation primary drying: LyoPRONTO's reference case and physical consistency."""

from __future__ import annotations

import numpy as np
import pytest

from phactory.process import get_model
from phactory.process.models.lyophilisation import ice_vapour_pressure

# LyoPRONTO (LyoHUB/LyoPRONTO) reference case: vial 3.80 cm2, product 3.14 cm2, 2 mL fill,
# 5 % solids, R0 1.4, A1 16, A2 0, KC 2.75e-4, KP 8.93e-4, KD 0.46, 0.15 Torr, shelf -35 ->
# 20 degC at 1 degC/min. These are the model's defaults; written out here so the test does not
# depend on them staying so.
REFERENCE = {
    "vial_area": 3.80,
    "product_area_fraction": 3.14 / 3.80,
    "fill_volume": 2.0,
    "solid_fraction": 0.05,
    "r0": 1.4,
    "a1": 16.0,
    "a2": 0.0,
    "kc": 2.75e-4,
    "kp": 8.93e-4,
    "kd": 0.46,
    "chamber_pressure": "0.15 Torr",
    "shelf_initial_temperature": "-35 degC",
    "shelf_temperature": "20 degC",
    "shelf_ramp_rate": "1 K/min",
}


@pytest.fixture(scope="module")
def reference() -> dict[str, float]:
    return get_model("lyophilisation").simulate(REFERENCE).cqas


def test_primary_drying_time_matches_lyopronto(reference: dict[str, float]) -> None:
    assert reference["primary_drying_time"] == pytest.approx(6.65, rel=0.01)


def test_max_sublimation_front_temperature_matches_lyopronto(
    reference: dict[str, float],
) -> None:
    assert reference["max_sublimation_temperature"] == pytest.approx(-14.78, rel=0.01)


def test_max_sublimation_flux_matches_lyopronto(reference: dict[str, float]) -> None:
    assert reference["max_sublimation_flux"] == pytest.approx(1.132, rel=0.01)


def test_ice_vapour_pressure_at_triple_point() -> None:
    # 4.58 Torr at 0.01 degC (the fit used by Pikal-type models is within 2 %).
    assert ice_vapour_pressure(0.01) == pytest.approx(4.585, rel=0.02)


def test_integrated_flux_removes_all_ice() -> None:
    model = get_model("lyophilisation")
    result = model.simulate(REFERENCE, times=np.linspace(0.0, 6.653, 4001))
    ts = result.timeseries
    area = 3.14e-4  # [m2]
    removed = np.trapezoid(ts["sublimation_flux"].to_numpy() * area, ts.index.to_numpy())
    # Frozen layer fully dried ...
    lpr0 = 2.0 / (3.14 * 0.918) * (1.0 - 0.05 * (1.0 - 0.918) / 1.5)  # [cm]
    assert ts["cake_length"].iloc[-1] == pytest.approx(lpr0, rel=1e-3)
    # ... and the sublimed mass equals the ice in the vial implied by LyoPRONTO's densities,
    # Vfill * (1 - c rho_solution / rho_solute) [g].
    ice = 2.0 * (1.0 - 0.05 * 1.0 / 1.5) / 1000.0  # [kg]
    assert removed == pytest.approx(ice, rel=0.005)


def test_warmer_shelf_dries_faster_but_hotter() -> None:
    model = get_model("lyophilisation")
    cold = model.simulate({"shelf_temperature": -10.0}).cqas
    warm = model.simulate({"shelf_temperature": 20.0}).cqas
    assert warm["primary_drying_time"] < cold["primary_drying_time"]
    assert warm["max_product_temperature"] > cold["max_product_temperature"]
    assert warm["collapse_margin"] < cold["collapse_margin"]


def test_collapse_cqa_fails_for_a_sensitive_formulation() -> None:
    # Sucrose-like collapse temperature (-32 degC): the aggressive reference cycle collapses.
    result = get_model("lyophilisation").simulate({"collapse_temperature": -32.0})
    assert result.cqas["collapse_margin"] < 0
    assert not result.in_spec["collapse_margin"]
    assert not result.success


def test_unfinished_drying_is_reported_not_extrapolated() -> None:
    model = type(get_model("lyophilisation"))(horizon=2.0)
    result = model.simulate()
    assert result.cqas["dried_fraction"] < 0.999
    assert not result.in_spec["dried_fraction"]
    assert result.cqas["primary_drying_time"] == pytest.approx(2.0)


def test_an_inner_area_larger_than_the_vial_is_out_of_bounds() -> None:
    # Ap > Av cannot be declared: the inner area is a fraction of the outer one.
    from phactory.process import ParameterError

    with pytest.raises(ParameterError, match="product_area_fraction"):
        get_model("lyophilisation").simulate({"product_area_fraction": 5.0 / 3.8})


def test_zero_product_resistance_is_heat_transfer_limited() -> None:
    # r0 = 0 is the declared lower bound (it was refused at run time): at the start of
    # drying nothing resists the vapour, the front sits at the saturation temperature of the
    # chamber pressure, and the heat through the vial and the ice sets the sublimation rate.
    model = get_model("lyophilisation")
    result = model.simulate({"r0": 0.0}, times=[0.0, 0.5, 1.0])
    t0 = result.timeseries.iloc[0]
    pch = 0.15  # [Torr]
    assert ice_vapour_pressure(t0["sublimation_temperature"]) == pytest.approx(pch, rel=1e-9)
    # Heat in = heat used (per vial, [cal/s]) with Kv from the defaults.
    kv = 2.75e-4 + 8.93e-4 * pch / (1.0 + 0.46 * pch)
    heat_in = kv * 3.80 * (-35.0 - t0["product_temperature"])
    used = 678.0 * t0["sublimation_flux"] * 1000.0 * 3.14e-4 / 3600.0
    assert used == pytest.approx(heat_in, rel=1e-9)
    # With no resistance at all the whole run is heat-transfer limited and still finishes.
    both = model.simulate({"r0": 0.0, "a1": 0.0})
    assert both.cqas["dried_fraction"] == 1.0
    assert both.cqas["primary_drying_time"] < model.simulate().cqas["primary_drying_time"]


@pytest.mark.parametrize(
    "cpps",
    [
        {"shelf_temperature": -20.0, "chamber_pressure": 0.04},  # 1.3 % low on a 101-grid
        {"shelf_temperature": 10.0, "chamber_pressure": 0.15},
        {"shelf_temperature": 30.0, "chamber_pressure": 0.3},
    ],
)
def test_maxima_are_those_of_the_continuous_solution(cpps: dict[str, float]) -> None:
    model = get_model("lyophilisation")
    cqas = model.simulate(cpps).cqas
    # A fine grid that includes the end of the shelf ramp (-35 degC at 1 K/min), where
    # the flux has a kink.
    ramp_end = (cpps["shelf_temperature"] + 35.0) / 60.0
    times = np.union1d(np.linspace(0.0, cqas["primary_drying_time"], 40001), [ramp_end])
    fine = model.simulate(cpps, times=times).timeseries
    for cqa, column in (
        ("max_sublimation_flux", "sublimation_flux"),
        ("max_product_temperature", "product_temperature"),
        ("max_sublimation_temperature", "sublimation_temperature"),
    ):
        on_grid = float(fine[column].max())
        # Never below any point of the solution, and no higher than the fine grid's
        # maximum plus what the grid's spacing can hide.
        assert cqas[cqa] >= on_grid - 1e-9 * abs(on_grid)
        assert cqas[cqa] == pytest.approx(on_grid, rel=1e-5, abs=1e-6)
