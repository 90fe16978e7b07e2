"""ISO 22400-2 time elements, availability, effectiveness, quality ratio and OEE."""

from __future__ import annotations

import math

import pytest

from phactory.events import STATES, EventLog
from phactory.kpi import compute, planned_phase_hours, state_hours

from .helpers import batch, one_unit_log, tiny_site, tl, two_unit_log


def test_state_hours_of_worked_example() -> None:
    hours = state_hours(one_unit_log())
    assert list(hours.columns) == list(STATES)
    assert hours.loc["U1"].to_dict() == {
        "producing": 60.0,
        "setup": 10.0,
        "cleaning": 0.0,
        "waiting_labour": 0.0,
        "waiting_upstream": 0.0,
        "blocked": 0.0,
        "down": 10.0,
        "planned_down": 10.0,
        "idle": 10.0,
    }


def test_worked_example_by_hand() -> None:
    r = compute(one_unit_log(), tiny_site())
    u = r.units.loc["U1"]
    # PBT = 100 - planned_down 10 - idle 10 = 80; APT = 60; AUST = 10; ADET = 10.
    assert (u["pbt_h"], u["apt_h"], u["aust_h"], u["adet_h"]) == (80.0, 60.0, 10.0, 10.0)
    assert u["availability"] == pytest.approx(60 / 80)
    # Standard hours: ph1 and ph2 both completed, planned 25 h each -> 50 of 60 h.
    assert u["effectiveness"] == pytest.approx(50 / 60)
    assert u["quality_ratio"] == pytest.approx(1.0)
    assert u["oee"] == pytest.approx(0.75 * 50 / 60)
    assert u["oee"] == pytest.approx(50 / 80)
    assert u["technical_efficiency"] == pytest.approx(60 / 70)
    assert u["setup_ratio"] == pytest.approx(10 / 70)
    assert u["utilisation"] == pytest.approx(0.6)
    assert u["busy_utilisation"] == pytest.approx(0.7)
    assert u["performance_loss_h"] == pytest.approx(10.0)
    assert u["quality_loss_h"] == pytest.approx(0.0)
    assert u["batches_processed"] == 1
    for k in ("oee", "availability", "effectiveness", "quality_ratio", "utilisation"):
        assert r.site[k] == pytest.approx(u[k])


def test_two_units_with_scrap_by_hand() -> None:
    r = compute(two_unit_log(), tiny_site())
    u1, u2 = r.units.loc["U1"], r.units.loc["U2"]
    # U1: ph1 25 (plan 25) + ph2 40 (plan 25) completed -> 50 standard hours; B2's ph1 was
    # cut short by the scrap after 20 h -> min(20, 25) = 20. S = 70, good G = 50.
    assert u1["pbt_h"] == 95 and u1["apt_h"] == 85
    assert u1["availability"] == pytest.approx(85 / 95)
    assert u1["effectiveness"] == pytest.approx(70 / 85)
    assert u1["quality_ratio"] == pytest.approx(50 / 70)
    assert u1["oee"] == pytest.approx(50 / 95)
    assert u1["oee"] == pytest.approx(
        u1["availability"] * u1["effectiveness"] * u1["quality_ratio"]
    )
    assert u1["performance_loss_h"] == pytest.approx(15.0)
    assert u1["quality_loss_h"] == pytest.approx(20.0)
    assert u1["value_adding_h"] == pytest.approx(50.0)
    assert u1["technical_efficiency"] == pytest.approx(85 / 90)
    assert u2["pbt_h"] == 25 and u2["apt_h"] == 12
    assert u2["availability"] == pytest.approx(12 / 25)
    assert u2["effectiveness"] == pytest.approx(10 / 12)
    assert u2["quality_ratio"] == pytest.approx(1.0)
    assert u2["oee"] == pytest.approx(10 / 25)
    # Site: hours added over units.
    assert r.site["availability"] == pytest.approx(97 / 120)
    assert r.site["effectiveness"] == pytest.approx(80 / 97)
    assert r.site["quality_ratio"] == pytest.approx(60 / 80)
    assert r.site["oee"] == pytest.approx(60 / 120)
    assert r.site["oee"] == pytest.approx(
        r.site["availability"] * r.site["effectiveness"] * r.site["quality_ratio"]
    )
    assert r.site["utilisation"] == pytest.approx(97 / 200)
    assert r.site["busy_utilisation"] == pytest.approx((97 + 10) / 200)
    assert r.site["setup_ratio"] == pytest.approx(10 / 107)
    assert r.site["technical_efficiency"] == pytest.approx(97 / (97 + 5 + 5 + 3))


def _one_batch(ph1: float, ph2: float, horizon: float = 100.0) -> EventLog:
    end = min(ph1 + ph2, horizon)
    rows = tl(
        "U1", [("producing", 0, ph1, "B1", "P", "ph1"), ("producing", ph1, end, "B1", "P", "ph2")]
    )
    if end < horizon:
        rows += tl("U1", [("idle", end, horizon)])
    status = "completed" if ph1 + ph2 <= horizon else "in_progress"
    return EventLog(
        horizon_h=horizon,
        units=["U1"],
        timeline=rows,
        batches=[batch("B1", status, 0.0, 0.0, end if status == "completed" else None, 200.0)],
    )


def test_fast_and_slow_phases_compensate_and_effectiveness_is_capped() -> None:
    # 20 h + 30 h against 25 + 25 h planned: on plan overall.
    u = compute(_one_batch(20, 30), tiny_site()).units.loc["U1"]
    assert u["effectiveness"] == pytest.approx(1.0) and u["performance_loss_h"] == 0
    # 20 h + 20 h: faster than planned -> E = 1, uncapped 50 / 40.
    u = compute(_one_batch(20, 20), tiny_site()).units.loc["U1"]
    assert u["effectiveness"] == 1.0
    assert u["effectiveness_uncapped"] == pytest.approx(1.25)
    assert u["oee"] == pytest.approx(40 / 40)


def test_phase_running_at_the_end_of_the_horizon_is_credited_what_it_used() -> None:
    # ph2 has run 10 of its planned 25 h when the horizon ends at 40 h.
    u = compute(_one_batch(30, 50, horizon=40.0), tiny_site()).units.loc["U1"]
    assert u["effectiveness"] == pytest.approx((25 + 10) / 40)
    # ... but never more than the whole phase: 30 h of ph1 still earn only 25.
    u = compute(_one_batch(30, 10, horizon=30.0), tiny_site()).units.loc["U1"]
    assert u["effectiveness"] == pytest.approx(25 / 30)


def test_planned_durations_from_recipes() -> None:
    planned = planned_phase_hours(tiny_site())
    assert planned[("r1", "P", "ph1")] == 25.0
    assert planned[("r1", "P", "ph2")] == pytest.approx(25.0)  # triangular (20+25+30)/3
    assert planned[("r1", "P", "o/ph2")] == pytest.approx(25.0)
    assert planned[("r1", "Q", "hold")] == 10.0


def test_planned_mapping_and_wildcard_override_the_site() -> None:
    log = one_unit_log()
    r = compute(log, tiny_site(), planned={("*", "P", "ph1"): 20.0, ("r1", "P", "ph2"): 28.0})
    assert r.units.loc["U1", "effectiveness"] == pytest.approx(48 / 60)


def test_without_site_effectiveness_counts_actual_time() -> None:
    r = compute(one_unit_log())
    assert r.units.loc["U1", "effectiveness"] == 1.0
    assert r.site["availability"] == pytest.approx(0.75)
    assert r.site["energy_kwh"] == 0.0
    assert math.isnan(r.site["labour_utilisation"])
    assert r.notes


def test_unit_with_no_planned_busy_time_has_undefined_ratios() -> None:
    log = EventLog(
        horizon_h=10.0,
        units=["U1", "U9"],
        timeline=tl("U1", [("idle", 0, 10)]) + tl("U9", [("planned_down", 0, 10)]),
    )
    r = compute(log, tiny_site())
    assert math.isnan(r.units.loc["U1", "availability"])
    assert math.isnan(r.site["oee"])
    assert r.units.loc["U9", "planned_down_h"] == 10.0
    assert r.site["batches_completed"] == 0.0
    assert math.isnan(r.site["cycle_time_h"])


def test_intervals_beyond_the_horizon_are_clipped() -> None:
    log = EventLog(
        horizon_h=10.0,
        units=["U1"],
        timeline=tl("U1", [("producing", -5, 4, "B1", "P", "ph1"), ("idle", 4, 15)]),
    )
    hours = state_hours(log)
    assert hours.loc["U1", "producing"] == 4.0 and hours.loc["U1", "idle"] == 6.0
