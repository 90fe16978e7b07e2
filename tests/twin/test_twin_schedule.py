"""Executing a schedule as the plan of record."""

from __future__ import annotations

import pytest
from twinsites import START, build, phase, proc, recipe, rows, two_step_site

from phactory.model import Site
from phactory.twin import Assignment, adherence, simulate


def test_schedule_is_followed_on_time_when_feasible() -> None:
    schedule = [
        Assignment("O1-B01", "make", "A1", 2.0),
        Assignment("O1-B01", "finish", "B1", 8.0),
        Assignment("O1-B02", "make", "A1", 10.0),
        Assignment("O1-B02", "finish", "B1", 20.0),
    ]
    log = simulate(two_step_site(), schedule=schedule, deterministic=True)
    log.check()
    adh = adherence(log)
    assert list(adh["planned_start_h"]) == [2.0, 8.0, 10.0, 20.0]
    assert list(adh["delay_h"]) == [0.0, 0.0, 0.0, 0.0]
    assert rows(log, "A1")[:3] == [("idle", 0, 2), ("producing", 2, 6), ("cleaning", 6, 7)]


def test_units_are_claimed_early_enough_to_change_over() -> None:
    recipes = {
        "rp": recipe("p", {"make": proc("A", {"x": phase(4)})}),
        "rq": recipe("q", {"make": proc("A", {"x": phase(4)})}),
    }
    orders = [
        {"id": "P", "product": "p", "batches": 1, "release": START},
        {"id": "Q", "product": "q", "batches": 1, "release": START},
    ]
    site = build(
        {"A": {}},
        {"A1": "A"},
        recipes,
        orders,
        horizon="1 d",
        changeovers=[{"from": "*", "to": "*", "duration": "2 h"}],
    )
    schedule = [Assignment("P-B01", "make", "A1", 3.0), Assignment("Q-B01", "make", "A1", 9.0)]
    log = simulate(site, schedule=schedule, deterministic=True)
    # Each is claimed 2 h (the changeover it might need) ahead; only Q needs it.
    assert rows(log, "A1")[:5] == [
        ("idle", 0, 1),
        ("waiting_upstream", 1, 3),
        ("producing", 3, 7),
        ("setup", 7, 9),
        ("producing", 9, 13),
    ]
    assert list(adherence(log)["delay_h"]) == [0.0, 0.0]


def test_infeasible_schedule_starts_late_never_early() -> None:
    schedule = [
        Assignment("O1-B01", "make", "A1", 0.0),
        Assignment("O1-B02", "make", "A1", 1.0),  # A1 is busy until 4 h + 1 h cleaning
    ]
    log = simulate(two_step_site(), schedule=schedule, deterministic=True)
    adh = adherence(log).set_index("batch")
    assert adh.loc["O1-B01", "delay_h"] == 0.0
    assert adh.loc["O1-B02", "delay_h"] == pytest.approx(4.0)
    assert (adh["delay_h"] >= 0).all()


def test_schedule_order_decides_who_waits() -> None:
    # Plan batch 2 first on A1: batch 1 waits although it asks at the same time.
    schedule = [
        Assignment("O1-B02", "make", "A1", 0.0),
        Assignment("O1-B01", "make", "A1", 5.0),
    ]
    log = simulate(two_step_site(), schedule=schedule, deterministic=True)
    started = log.events[
        (log.events["kind"] == "procedure_started") & (log.events["procedure"] == "make")
    ]
    assert list(started["batch"]) == ["O1-B02", "O1-B01"]
    assert list(started["t_h"]) == [0.0, 5.0]


def hold_limited_site() -> Site:
    """``make`` (4 h on A) feeds ``fill`` (2 h on B), which must start within 2 h."""
    recipes = {
        "r": recipe(
            "p",
            {
                "make": proc("A", {"x": phase(4)}),
                "fill": proc(
                    "B",
                    {"y": phase(2)},
                    after=[{"procedure": "make", "max_lag": "2 h", "on_breach": "scrap"}],
                ),
            },
        )
    }
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    return build({"A": {}, "B": {}}, {"A1": "A", "B1": "B"}, recipes, orders, horizon="1 d")


def test_a_hold_limited_step_keeps_its_planned_start_within_the_limit() -> None:
    # make ends at 6 h; fill planned 1.5 h later, inside its 2 h limit: as planned.
    schedule = [Assignment("O1-B01", "make", "A1", 2.0), Assignment("O1-B01", "fill", "B1", 7.5)]
    log = simulate(hold_limited_site(), schedule=schedule, deterministic=True)
    assert list(adherence(log)["delay_h"]) == [0.0, 0.0]
    assert log.batches["status"].tolist() == ["completed"]


def test_a_hold_limited_step_starts_early_rather_than_lose_the_batch() -> None:
    # fill is planned 6 h after make ends, past its 2 h hold limit (as when make runs
    # short): it starts early, 1 h after make (half the limit as slack), not at 12 h.
    schedule = [Assignment("O1-B01", "make", "A1", 2.0), Assignment("O1-B01", "fill", "B1", 12.0)]
    log = simulate(hold_limited_site(), schedule=schedule, deterministic=True)
    log.check()
    assert log.batches["status"].tolist() == ["completed"]
    adh = adherence(log).set_index("procedure")
    assert adh.loc["make", "delay_h"] == 0.0
    assert adh.loc["fill", "delay_h"] == pytest.approx(7.0 - 12.0)
    assert not (log.events["kind"] == "deviation").any()
