"""Process models coupled to the plant reproduce the offline models when control is
perfect, and respond to what the equipment achieves when it is not."""

from __future__ import annotations

import math

import pytest

from phactory.control.plant.equipment import Contents
from phactory.control.plant.process import CHOCoupling, IVTCoupling, LyophilisationCoupling
from phactory.process import get_model


def _culture(temp: float, ph: float, hours: float, **params: object) -> CHOCoupling:
    c = Contents(capacity_l=2000.0, volume_l=0.0, temperature_c=temp, ph=ph)
    cho = CHOCoupling(interval_s=600.0)
    cho.start(params, c, hours)
    for _ in range(round(hours * 6)):
        cho.step(600.0, {}, c)
    return cho


def test_cho_under_perfect_control_reproduces_the_offline_model() -> None:
    cho = _culture(37.0, 7.0, 5 * 24, initial_volume=1500.0)
    ref = get_model("cho_fed_batch").simulate({"duration": 5.0, "initial_volume": 1500.0})
    assert cho.report()["titre"] == pytest.approx(ref.columns["titer"][-1], rel=1e-4)
    assert cho.report()["vcd"] == pytest.approx(ref.columns["vcd"][-1], rel=1e-4)
    assert cho.y[0] == pytest.approx(ref.columns["volume"][-1], rel=1e-6)  # fed from day 3


def test_cho_grows_slower_at_the_temperature_and_ph_achieved() -> None:
    nominal = _culture(37.0, 7.0, 72).report()["vcd"]
    cold = _culture(33.0, 7.0, 72).report()["vcd"]
    acidic = _culture(37.0, 6.7, 72).report()["vcd"]
    assert cold < 0.9 * nominal
    assert acidic < 0.9 * nominal


def test_cho_acidifies_the_medium_and_uses_oxygen() -> None:
    c = Contents(capacity_l=2000.0, volume_l=1500.0, temperature_c=37.0)
    cho = CHOCoupling()
    cho.start({}, c, 100.0)
    assert c.volume_l == 1500.0  # the vessel's own volume is the culture's
    assert c.acid_mmol_l_s > 0.0
    assert c.our_mmol_l_s == pytest.approx(0.3 * 0.6 / 3600.0)


def test_ivt_follows_the_model_and_releases_its_protons_as_acid() -> None:
    params = {"mg_total": "100 mM", "ntp_total": "60 mM", "t7rnap": 1.9}
    ref = get_model("ivt").simulate({**params, "reaction_time": 3.0})
    c = Contents(capacity_l=50.0, volume_l=30.0)
    ivt = IVTCoupling()
    ivt.start(params, c, 3.0)
    acid = 0.0
    for _ in range(3 * 360):
        ivt.step(10.0, {}, c)
        acid += c.acid_mmol_l_s * 10.0
    assert ivt.report()["rna_yield"] == pytest.approx(ref.cqas["rna_yield"], rel=1e-3)
    released = ref.columns["h_total"][-1] - ref.columns["h_total"][0]
    assert acid == pytest.approx(released * 1000.0, rel=1e-3)  # [mmol/L]
    assert ivt.report()["uncontrolled_ph"] == pytest.approx(ref.cqas["final_ph"], abs=1e-3)


def test_primary_drying_at_constant_conditions_matches_the_model() -> None:
    # No shelf ramp in the reference: the shelf starts at its set point.
    params = {
        "shelf_temperature": -10.0,
        "shelf_initial_temperature": -10.0,
        "chamber_pressure": 0.1,
    }
    ref = get_model("lyophilisation").simulate(params)
    c = Contents(capacity_l=200.0, temperature_c=-10.0)
    lyo = LyophilisationCoupling(vials=1000)
    lyo.start(params, c, 20.0)
    lyo.pressure_mtorr = 100.0
    peak_vapour = 0.0
    while not lyo.done and lyo.t_h < 60.0:
        lyo.step(30.0, {}, c)
        peak_vapour = max(peak_vapour, c.sublimation_g_h)
    report = lyo.report()
    assert report["primary_drying_time"] == pytest.approx(ref.cqas["primary_drying_time"], rel=0.01)
    assert report["max_product_temperature"] == pytest.approx(
        ref.cqas["max_product_temperature"], abs=0.05
    )
    assert report["dried_fraction"] == 1.0
    assert peak_vapour > 0.0 and c.sublimation_g_h == 0.0
    assert c.product_temperature_c is None  # drying over: the product follows the shelf


def test_drying_waits_for_vacuum() -> None:
    c = Contents(capacity_l=200.0, temperature_c=-10.0)
    lyo = LyophilisationCoupling()
    lyo.start({}, c, 20.0)
    lyo.step(3600.0, {}, c)  # chamber at atmosphere
    assert lyo.length == 0.0 and c.sublimation_g_h == 0.0
    assert math.isnan(lyo.report()["max_product_temperature"])


def test_report_names_are_declared() -> None:
    for coupling in (CHOCoupling(), IVTCoupling(), LyophilisationCoupling()):
        assert [n for n, _ in type(coupling).REPORTS] == list(coupling.report())
