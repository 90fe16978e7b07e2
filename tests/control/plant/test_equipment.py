"""Equipment models of the virtual plant against their equations, worked by hand."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.control.plant import UnitPlant, UnitSpec
from phactory.control.plant.chemistry import C_STAR_AIR
from phactory.control.plant.equipment import AMBIENT_C, WATER_CP, Contents
from phactory.control.plant.thermal import JacketedVessel, saturation_pressure_bar
from phactory.errors import InvalidError


def plant(*features: str, capacity: float = 1000.0, volume: float = 0.0, **kw: float) -> UnitPlant:
    spec = UnitSpec("U", capacity, frozenset(features), initial_volume_l=volume, **kw)  # type: ignore[arg-type]
    return UnitPlant(spec, seed=1)


def run(p: UnitPlant, seconds: float, dt: float = 1.0, **outputs: float | bool) -> None:
    p.outputs.update(outputs)
    for _ in range(round(seconds / dt)):
        p.step(dt)


def test_jacket_and_contents_reach_the_heat_balance_steady_state() -> None:
    # At steady state: Q = UAa (Tj - Ta) + UAa (T - Ta) and UA (Tj - T) = UAa (T - Ta).
    v = JacketedVessel(1000.0)
    c = Contents(capacity_l=1000.0, volume_l=800.0)
    v.max_substep_s = math.inf
    for _ in range(100):  # a month per step: backward Euler lands on the steady state
        v.step(30 * 86_400.0, {"TCU": 2.0}, c)
    q = v.duty(2.0)
    ua, uaa = v.ua_effective(c), v.ua_amb
    t = AMBIENT_C + q / (2 * uaa + uaa * uaa / ua)
    tj = t + uaa * (t - AMBIENT_C) / ua
    assert c.temperature_c == pytest.approx(t, rel=1e-6)
    assert v.t_jacket == pytest.approx(tj, rel=1e-6)


def test_full_output_heats_the_full_vessel_at_its_rated_rate() -> None:
    p = plant("thermal", capacity=2000.0, volume=2000.0)
    run(p, 1800, TCU=100.0)  # past the jacket's lag (7 min)
    t0 = p.contents.temperature_c
    run(p, 1800)
    slope_k_h = (p.contents.temperature_c - t0) * 2.0
    # 20 K/h for the full vessel, less what the wall's heat capacity and the rising
    # jacket take; never more.
    assert 14.0 < slope_k_h < 20.0


def test_long_steps_stay_stable_and_monotone() -> None:
    v = JacketedVessel(50.0)
    c = Contents(capacity_l=50.0, volume_l=30.0, temperature_c=80.0)
    v.t_jacket = 80.0
    temps = []
    for _ in range(20):
        v.step(86_400.0, {"TCU": 0.0}, c)
        temps.append(c.temperature_c)
    assert all(math.isfinite(x) for x in temps)
    assert all(a >= b >= AMBIENT_C - 1e-9 for a, b in itertools.pairwise(temps))
    assert temps[-1] == pytest.approx(AMBIENT_C, abs=1e-3)


def test_a_failed_heater_and_a_fouled_jacket_heat_less() -> None:
    healthy = JacketedVessel(1000.0)
    c = Contents(capacity_l=1000.0, volume_l=800.0)
    base = healthy.ua_effective(c)
    healthy.fouling = 0.5
    assert healthy.ua_effective(c) == pytest.approx(base / 2)
    healthy.heater_health = 0.0
    assert healthy.duty(100.0) == 0.0
    assert healthy.duty(-100.0) < 0.0  # cooling still works


def test_the_tank_balances_mass() -> None:
    p = plant("tank", capacity=300.0)
    flow = p.tank.pumps["P_IN"].max_flow if p.tank else 0.0  # 10 L/min
    run(p, 600, P_IN=50.0, XV_IN=True)
    assert p.contents.volume_l == pytest.approx(0.5 * flow * 10.0)
    run(p, 60, P_IN=0.0, XV_IN=False, P_OUT=100.0, XV_OUT=True)
    assert p.contents.volume_l == pytest.approx(0.5 * flow * 10.0 - flow)
    run(p, 3600)  # the outlet cannot draw more than there is
    assert p.contents.volume_l == 0.0
    assert p.inputs["ZS_OUT"] is True


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 100), st.booleans(), st.floats(0, 100), st.booleans(),
            st.floats(0.1, 600.0),
        ),
        min_size=1,
        max_size=30,
    )
)  # fmt: skip
def test_tank_volume_stays_physical_and_closes_its_balance(
    steps: list[tuple[float, bool, float, bool, float]],
) -> None:
    p = plant("tank", capacity=200.0)
    assert p.tank is not None
    added = 0.0
    for p_in, v_in, p_out, v_out, dt in steps:
        p.outputs.update(P_IN=p_in, XV_IN=v_in, P_OUT=p_out, XV_OUT=v_out)
        before = p.contents.volume_l
        out_before = p.tank.transferred_out_l
        p.step(dt)
        inflow = p.tank.flow_in * dt / 60.0
        outflow = p.tank.transferred_out_l - out_before
        lost = max(before + inflow - outflow - 220.0, 0.0)  # overflow at 110 %
        assert p.contents.volume_l == pytest.approx(before + inflow - outflow - lost, abs=1e-9)
        assert 0.0 <= p.contents.volume_l <= 220.0 + 1e-9
        added += inflow
    assert p.contents.volume_l <= added + 1e-9


def test_the_agitator_follows_its_command_with_a_first_order_lag() -> None:
    p = plant("agitation", capacity=1000.0, volume=500.0)
    assert p.agitator is not None
    run(p, p.agitator.tau_s, dt=p.agitator.tau_s, AGIT=50.0)  # one exact step
    assert p.agitator.speed == pytest.approx(50.0 * (1 - math.exp(-1)))
    run(p, 100.0, dt=0.1)
    assert p.agitator.speed == pytest.approx(50.0, rel=1e-6)


def test_dosing_moves_the_ph_linearly() -> None:
    p = plant("ph_dosing", volume=50.0, ph_rate=2.0)
    run(p, 1800, BASE=100.0)
    assert p.contents.ph == pytest.approx(7.0 + 1.0)
    run(p, 900, BASE=0.0, ACID=50.0)
    assert p.contents.ph == pytest.approx(8.0 - 0.25)


def test_dissolved_oxygen_settles_where_transfer_meets_uptake() -> None:
    p = plant("oxygen", volume=500.0)
    p.contents.our_mmol_l_s = 2.0 / 3600.0  # 2 mmol/(L h)
    assert p.oxygen is not None
    run(p, 20 * 3600, dt=10.0, O2=21.0)
    kla = p.oxygen.kla(p.contents)
    expected = 100.0 - p.contents.our_mmol_l_s / (kla * C_STAR_AIR) * 100.0
    assert p.contents.do_pct == pytest.approx(expected, rel=1e-6)


def test_steam_raises_the_vessel_to_the_saturation_pressure() -> None:
    p = plant("steam", capacity=500.0)
    run(p, 3600, STEAM=100.0)
    t = p.contents.temperature_c
    assert 120.0 < t < 144.0
    assert p.true_values()["PT"] == pytest.approx(saturation_pressure_bar(t) - 1.01325, rel=1e-3)
    assert saturation_pressure_bar(121.5) == pytest.approx(2.08, abs=0.02)  # steam tables
    run(p, 1800, STEAM=0.0)
    assert p.true_values()["PT"] < 0.01


def test_cip_conductivity_follows_the_supply() -> None:
    p = plant("cip", capacity=1000.0)
    assert p.cip is not None
    run(p, 1800, CIP_PUMP=100.0, XV_CAUSTIC=True)
    assert p.cip.conductivity == pytest.approx(50.0, rel=1e-3)
    run(p, 1800, XV_CAUSTIC=False)
    assert p.cip.conductivity < 0.01


def test_the_filling_line_counts_what_its_rate_fills() -> None:
    p = plant("fill")
    assert p.fill is not None
    run(p, 3600, LINE=50.0, FILL_SP=2.0)
    rate, tau, t = 12_000.0, 30.0, 3600.0
    expected = rate * (t - tau * (1 - math.exp(-t / tau))) / 3600.0
    assert p.fill.count == pytest.approx(expected, abs=2)
    assert p.inputs["FILL_VOL"] == pytest.approx(2.0, abs=0.05)


def test_the_chamber_evacuates_and_vents() -> None:
    p = plant("chamber", capacity=200.0)
    run(p, 600, VAC=True, N2=20.0)
    assert p.true_values()["PT_CM"] == pytest.approx(5.0 + 100.0, rel=1e-3)
    run(p, 600, VAC=False)
    assert p.true_values()["PT_CM"] == pytest.approx(760_000.0, rel=1e-3)


def test_noise_is_white_seeded_and_sized() -> None:
    a = plant("thermal", volume=500.0)
    b = plant("thermal", volume=500.0)
    c = UnitPlant(UnitSpec("U", 1000.0, frozenset({"thermal"}), initial_volume_l=500.0), seed=2)
    readings = []
    for _ in range(2000):
        for x in (a, b, c):
            x.step(1.0)
        assert a.inputs["TT"] == b.inputs["TT"]
        readings.append(a.inputs["TT"] - a.contents.temperature_c)
    assert c.inputs["TT"] != a.inputs["TT"]
    assert statistics.pstdev(readings) == pytest.approx(0.05, rel=0.1)
    assert abs(statistics.fmean(readings)) < 0.01


def test_a_unit_spec_refuses_what_it_cannot_model() -> None:
    with pytest.raises(InvalidError, match="unknown equipment feature"):
        UnitSpec("U", features=frozenset({"warp-drive"}))
    with pytest.raises(InvalidError, match="no plant coupling"):
        UnitSpec("U", processes=frozenset({"ishigami"}))


def test_heat_capacity_counts_liquid_and_wall() -> None:
    v = JacketedVessel(100.0)
    c = Contents(capacity_l=100.0, volume_l=40.0)
    assert v.heat_capacity(c) == pytest.approx(40.0 * WATER_CP + 0.15 * 100.0 * WATER_CP)
