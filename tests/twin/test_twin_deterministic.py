"""Deterministic runs checked against hand-computed timelines (no randomness)."""

from __future__ import annotations

import pytest
from twinsites import START, build, phase, proc, recipe, rows, two_step_site

from phactory.twin import simulate


def test_two_batches_through_two_units_match_the_hand_calculation() -> None:
    # A1: make 4 h then CIP 1 h; B1: finish 3 h then CIP 2 h; both batches released at 0.
    log = simulate(two_step_site(), deterministic=True)
    log.check()
    assert rows(log, "A1") == [
        ("producing", 0, 4),
        ("cleaning", 4, 5),
        ("producing", 5, 9),
        ("cleaning", 9, 10),
        ("idle", 10, 24),
    ]
    assert rows(log, "B1") == [
        ("idle", 0, 4),
        ("producing", 4, 7),
        ("cleaning", 7, 9),
        ("producing", 9, 12),
        ("cleaning", 12, 14),
        ("idle", 14, 24),
    ]
    b = log.batches.set_index("batch")
    assert list(b["status"]) == ["completed", "completed"]
    assert list(b["start_h"]) == [0.0, 5.0]
    assert list(b["end_h"]) == [7.0, 12.0]
    cycle = b["end_h"] - b["release_h"]
    assert list(cycle) == [7.0, 12.0]
    assert b["quantity"].sum() == 200.0  # 2 x batch_size 100 L in 24 h
    hours = log.state_hours()
    assert hours.loc["A1", "producing"] == 8.0 and hours.loc["B1", "cleaning"] == 4.0


def test_event_sequence_of_a_batch() -> None:
    log = simulate(two_step_site(), deterministic=True)
    ev = log.events[log.events["batch"] == "O1-B01"]
    assert list(ev["kind"]) == [
        "batch_released",
        "batch_started",
        "procedure_started",
        "phase_started",
        "phase_completed",
        "procedure_completed",
        "procedure_started",
        "phase_started",
        "phase_completed",
        "procedure_completed",
        "batch_completed",
    ]
    assert list(ev["t_h"]) == [0, 0, 0, 0, 4, 4, 4, 4, 7, 7, 7]
    assert ev[ev["kind"] == "batch_completed"]["value"].item() == 100.0


def test_changeover_between_products_uses_the_most_specific_rule() -> None:
    classes = {"A": {}}
    recipes = {
        "rp": recipe("p", {"run": proc("A", {"x": phase(4)})}),
        "rq": recipe("q", {"run": proc("A", {"x": phase(4)})}),
    }
    orders = [
        {"id": "O1", "product": "p", "batches": 1, "release": START},
        {"id": "O2", "product": "q", "batches": 1, "release": START},
        {"id": "O3", "product": "p", "batches": 1, "release": START},
    ]
    changeovers = [
        {"equipment_class": "*", "from": "*", "to": "*", "duration": "1 h"},
        {"equipment_class": "A", "from": "p", "to": "q", "duration": "5 h"},
    ]
    site = build(classes, {"A1": "A"}, recipes, orders, horizon="1 d", changeovers=changeovers)
    log = simulate(site, deterministic=True)
    log.check()
    assert rows(log, "A1") == [
        ("producing", 0, 4),
        ("setup", 4, 9),
        ("producing", 9, 13),
        ("setup", 13, 14),
        ("producing", 14, 18),
        ("idle", 18, 24),
    ]
    setup = log.timeline[log.timeline["state"] == "setup"]
    assert list(setup["batch"]) == ["O2-B01", "O3-B01"]


def test_clean_hold_expiry_forces_recleaning() -> None:
    classes = {"A": {"cleaning": {"method": "cip", "cip": "1 h", "clean_hold": "10 h"}}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(4)})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": "2027-01-04T20:00"}]
    log = simulate(build(classes, {"A1": "A"}, recipes, orders, horizon="2 d"), deterministic=True)
    assert rows(log, "A1") == [
        ("idle", 0, 20),
        ("cleaning", 20, 21),
        ("producing", 21, 25),
        ("cleaning", 25, 26),
        ("idle", 26, 48),
    ]


def test_dirty_hold_breach_is_a_deviation_in_campaign_mode() -> None:
    classes = {
        "A": {
            "cleaning": {
                "method": "cip",
                "cip": "1 h",
                "dirty_hold": "5 h",
                "after_each_batch": False,
            }
        }
    }
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(4)})})}
    orders = [
        {"id": "O1", "product": "p", "batches": 1, "release": START},
        {"id": "O2", "product": "p", "batches": 1, "release": "2027-01-04T20:00"},
        {"id": "O3", "product": "p", "batches": 1, "release": "2027-01-05T03:00"},
    ]
    log = simulate(build(classes, {"A1": "A"}, recipes, orders, horizon="2 d"), deterministic=True)
    log.check()
    # O2 finds the unit dirty for 16 h > 5 h: deviation, then cleaning; O3 follows the
    # same product 2 h after O2 ended: no cleaning (campaign).
    assert rows(log, "A1") == [
        ("producing", 0, 4),
        ("idle", 4, 20),
        ("cleaning", 20, 21),
        ("producing", 21, 25),
        ("idle", 25, 27),
        ("producing", 27, 31),
        ("idle", 31, 48),
    ]
    dev = log.events[log.events["kind"] == "deviation"]
    assert len(dev) == 1 and dev["batch"].item() == "O2-B01"
    assert "dirty hold" in dev["detail"].item() and dev["value"].item() == pytest.approx(11.0)


def test_maintenance_window_shows_as_planned_down() -> None:
    classes = {"A": {"cleaning": {"method": "cip", "cip": "1 h"}}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(4)})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    calendar = {
        "maintenance": [
            {"units": ["A1"], "start": "2027-01-04T10:00", "duration": "5 h", "reason": "PM"}
        ]
    }
    log = simulate(
        build(classes, {"A1": "A"}, recipes, orders, horizon="1 d", calendar=calendar),
        deterministic=True,
    )
    assert rows(log, "A1") == [
        ("producing", 0, 4),
        ("cleaning", 4, 5),
        ("idle", 5, 10),
        ("planned_down", 10, 15),
        ("idle", 15, 24),
    ]
    ev = log.events[log.events["kind"] == "maintenance_started"]
    assert list(ev["t_h"]) == [10.0] and ev["detail"].item() == "PM"


def test_maintenance_waits_for_the_running_procedure() -> None:
    classes = {"A": {"cleaning": {"method": "cip", "cip": "1 h"}}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(4)})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": "2027-01-04T08:00"}]
    calendar = {"maintenance": [{"units": ["A1"], "start": "2027-01-04T10:00", "duration": "5 h"}]}
    log = simulate(
        build(classes, {"A1": "A"}, recipes, orders, horizon="1 d", calendar=calendar),
        deterministic=True,
    )
    assert rows(log, "A1") == [
        ("idle", 0, 8),
        ("producing", 8, 12),
        ("cleaning", 12, 13),
        ("planned_down", 13, 18),
        ("idle", 18, 24),
    ]
    ev = log.events[log.events["kind"] == "maintenance_started"]
    assert "deferred 3.00 h" in ev["detail"].item()


def test_dispatch_prefers_a_unit_without_upcoming_maintenance() -> None:
    classes = {"A": {}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(4)})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": "2027-01-04T08:00"}]
    calendar = {"maintenance": [{"units": ["A1"], "start": "2027-01-04T10:00", "duration": "5 h"}]}
    log = simulate(
        build(classes, {"A1": "A", "A2": "A"}, recipes, orders, horizon="1 d", calendar=calendar),
        deterministic=True,
    )
    assert rows(log, "A1") == [("idle", 0, 10), ("planned_down", 10, 15), ("idle", 15, 24)]
    assert rows(log, "A2") == [("idle", 0, 8), ("producing", 8, 12), ("idle", 12, 24)]


def test_recurring_maintenance_windows() -> None:
    classes = {"A": {}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(1)})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    calendar = {
        "maintenance": [
            {"units": ["A1"], "start": "2027-01-04T12:00", "duration": "2 h", "every": "1 d"}
        ]
    }
    log = simulate(
        build(classes, {"A1": "A"}, recipes, orders, horizon="3 d", calendar=calendar),
        deterministic=True,
    )
    down = log.timeline[log.timeline["state"] == "planned_down"]
    assert list(zip(down["start_h"], down["end_h"], strict=True)) == [(12, 14), (36, 38), (60, 62)]


def test_shared_wfi_supply_makes_phases_wait() -> None:
    classes = {"A": {}}
    recipes = {
        "r": recipe("p", {"run": proc("A", {"rinse": phase(1, utilities={"wfi": "1500 L"})})})
    }
    orders = [{"id": "O1", "product": "p", "batches": 2, "release": START}]
    site = build(
        classes,
        {"A1": "A", "A2": "A"},
        recipes,
        orders,
        horizon="1 d",
        utilities={"wfi": {"capacity": "1000 L/h"}},
    )
    log = simulate(site, deterministic=True)  # loop buffer: one hour = 1000 L, full
    assert rows(log, "A1") == [
        ("waiting_upstream", 0, 0.5),
        ("producing", 0.5, 1.5),
        ("idle", 1.5, 24),
    ]
    assert rows(log, "A2") == [("waiting_upstream", 0, 2), ("producing", 2, 3), ("idle", 3, 24)]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("fifo", ["W", "X", "Y", "Z"]),
        ("edd", ["W", "Y", "Z", "X"]),
        ("priority", ["W", "Z", "X", "Y"]),
    ],
)
def test_dispatch_rules_order_waiting_batches(rule: str, expected: list[str]) -> None:
    classes = {"A": {}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(2)})})}
    at1 = "2027-01-04T01:00"
    orders = [
        {"id": "W", "product": "p", "batches": 1, "release": START},
        {
            "id": "X",
            "product": "p",
            "batches": 1,
            "release": at1,
            "due": "2027-01-09",
            "priority": 1,
        },
        {"id": "Y", "product": "p", "batches": 1, "release": at1, "due": "2027-01-06"},
        {
            "id": "Z",
            "product": "p",
            "batches": 1,
            "release": at1,
            "due": "2027-01-07",
            "priority": 5,
        },
    ]
    log = simulate(
        build(classes, {"A1": "A"}, recipes, orders, horizon="1 d"),
        dispatch=rule,
        deterministic=True,
    )
    started = log.events[log.events["kind"] == "procedure_started"]
    assert list(started["order"]) == expected
    assert list(started["t_h"]) == [0, 2, 4, 6]


def test_min_lag_delays_the_successor() -> None:
    classes = {"A": {}, "B": {}}
    recipes = {
        "r": recipe(
            "p",
            {
                "make": proc("A", {"x": phase(2)}),
                "finish": proc(
                    "B", {"x": phase(1)}, after=[{"procedure": "make", "min_lag": "3 h"}]
                ),
            },
        )
    }
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    log = simulate(
        build(classes, {"A1": "A", "B1": "B"}, recipes, orders, horizon="1 d"), deterministic=True
    )
    assert rows(log, "B1") == [("idle", 0, 5), ("producing", 5, 6), ("idle", 6, 24)]


def test_release_after_the_horizon_is_not_run_and_unreleased_is_not_started() -> None:
    classes = {"A": {}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(30)})})}
    orders = [
        {"id": "O1", "product": "p", "batches": 2, "release": START},
        {"id": "O2", "product": "p", "batches": 1, "release": "2027-02-01"},
    ]
    log = simulate(build(classes, {"A1": "A"}, recipes, orders, horizon="1 d"), deterministic=True)
    log.check()
    assert list(log.batches["batch"]) == ["O1-B01", "O1-B02"]
    assert list(log.batches["status"]) == ["in_progress", "not_started"]
    assert list(log.batches["quantity"]) == [0.0, 0.0]
    assert rows(log, "A1") == [("producing", 0, 24)]


def test_quantity_orders_become_batches() -> None:
    classes = {"A": {}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(1)})}, size="100 L")}
    orders = [{"id": "O1", "product": "p", "quantity": "250 L", "release": START}]
    log = simulate(build(classes, {"A1": "A"}, recipes, orders, horizon="1 d"), deterministic=True)
    assert len(log.batches) == 3 and log.batches["quantity"].sum() == 300.0


def test_custom_rule_and_policy_plug_in() -> None:
    from phactory.twin import SameProductFirst

    class LatestRelease:
        name = "latest-release"

        def key(self, request):  # type: ignore[no-untyped-def]
            return (-request.batch.release_h, request.t_request)

    classes = {"A": {}}
    recipes = {
        "rp": recipe("p", {"run": proc("A", {"x": phase(2)})}),
        "rq": recipe("q", {"run": proc("A", {"x": phase(2)})}),
    }
    orders = [
        {"id": "W", "product": "p", "batches": 1, "release": START},
        {"id": "X", "product": "p", "batches": 1, "release": "2027-01-04T01:00"},
        {"id": "Y", "product": "p", "batches": 1, "release": "2027-01-04T01:30"},
    ]
    site = build(classes, {"A1": "A"}, recipes, orders, horizon="1 d")
    log = simulate(site, dispatch=LatestRelease(), deterministic=True)
    started = log.events[log.events["kind"] == "procedure_started"]
    assert list(started["order"]) == ["W", "Y", "X"]

    # A1 last made q (free since 2 h), A2 last made p (free since 2.5 h): by default the
    # next p batch takes A1, free the longest, and changes it over; SameProductFirst
    # takes A2 and needs no changeover.
    orders = [
        {"id": "Q1", "product": "q", "batches": 1, "release": START},
        {"id": "P1", "product": "p", "batches": 1, "release": "2027-01-04T00:30"},
        {"id": "P2", "product": "p", "batches": 1, "release": "2027-01-04T05:00"},
    ]
    site = build(
        classes,
        {"A1": "A", "A2": "A"},
        recipes,
        orders,
        horizon="1 d",
        changeovers=[{"from": "*", "to": "*", "duration": "4 h"}],
    )
    for policy, unit in ((None, "A1"), (SameProductFirst(), "A2")):
        log = simulate(site, unit_policy=policy, deterministic=True)
        p2 = log.events[(log.events["kind"] == "procedure_started") & (log.events["order"] == "P2")]
        assert p2["unit"].item() == unit
