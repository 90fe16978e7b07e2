"""Seeds, failures, batch losses and maximum time lags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from twinsites import START, build, phase, proc, recipe, rows

from phactory.model import Reliability, Site
from phactory.twin import simulate
from phactory.twin.streams import FailureClock


def assert_logs_equal(a, b) -> None:  # type: ignore[no-untyped-def]
    for table in ("timeline", "events", "batches", "labour"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))


def test_same_seed_same_log_different_seed_different_log(mab_site: Site) -> None:
    a = simulate(mab_site, days=150, seed=3)
    b = simulate(mab_site, days=150, seed=3)
    assert_logs_equal(a, b)
    assert a.seed == 3
    c = simulate(mab_site, days=150, seed=4)
    assert not a.events.equals(c.events)
    assert not a.timeline.equals(c.timeline)


def test_a_shorter_run_is_an_exact_prefix_of_a_longer_one(mab_site: Site) -> None:
    short = simulate(mab_site, days=60, seed=9)
    long = simulate(mab_site, days=120, seed=9)
    cut = 60 * 24.0
    a = short.events[short.events["t_h"] < cut].reset_index(drop=True)
    b = long.events[long.events["t_h"] < cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    tl_a = short.timeline[short.timeline["end_h"] < cut].reset_index(drop=True)
    tl_b = long.timeline[long.timeline["end_h"] < cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(tl_a, tl_b)


def test_failures_interrupt_the_phase_which_resumes_after_repair() -> None:
    classes = {"A": {"reliability": {"mtbf": "2 h", "mttr": "30 min"}}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(20)})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    log = simulate(build(classes, {"A1": "A"}, recipes, orders, horizon="3 d"), seed=1)
    log.check()
    ev = log.events
    fails = ev[ev["kind"] == "failure"]
    repairs = ev[ev["kind"] == "repair"]
    n = len(fails)
    assert n >= 3 and len(repairs) == n
    assert np.allclose(repairs["t_h"].to_numpy() - fails["t_h"].to_numpy(), 0.5)
    hours = log.state_hours().loc["A1"]
    assert hours["producing"] == pytest.approx(20.0)
    assert hours["down"] == pytest.approx(0.5 * n)
    start = ev[ev["kind"] == "phase_started"]["t_h"].item()
    end = ev[ev["kind"] == "phase_completed"]["t_h"].item()
    assert end - start == pytest.approx(20.0 + 0.5 * n)
    assert (fails["batch"] == "O1-B01").all() and (fails["phase"] == "x").all()
    # Each failure happens while producing, and the phase resumes right after repair.
    tl = log.timeline
    down = tl[tl["state"] == "down"]
    assert np.allclose(down["start_h"], fails["t_h"]) and np.allclose(down["end_h"], repairs["t_h"])


def test_deterministic_runs_have_no_failures_or_losses() -> None:
    classes = {"A": {"reliability": {"mtbf": "2 h", "mttr": "30 min"}}}
    recipes = {"r": recipe("p", {"run": proc("A", {"x": phase(20, failure_probability=1.0)})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    log = simulate(build(classes, {"A1": "A"}, recipes, orders, horizon="3 d"), deterministic=True)
    assert "failure" not in set(log.events["kind"])
    assert log.batches["status"].item() == "completed"


@pytest.mark.parametrize("model", ["exponential", "weibull"])
def test_time_to_failure_has_mean_mtbf(model: str) -> None:
    clock = FailureClock(Reliability(mtbf="100 h", model=model, shape=2.0), 7, "U1")
    draws = np.array([clock.next_ttf() for _ in range(40_000)])
    assert draws.mean() == pytest.approx(100.0, rel=0.02)
    if model == "weibull":  # wear-out: less spread than exponential (CV 0.52 for beta 2)
        assert draws.std() / draws.mean() == pytest.approx(math.sqrt(4 / math.pi - 1), rel=0.05)


def test_failure_probability_scraps_the_batch_and_skips_the_rest() -> None:
    classes = {"A": {"cleaning": {"method": "cip", "cip": "1 h"}}, "B": {}}
    recipes = {
        "r": recipe(
            "p",
            {
                "make": proc("A", {"x": phase(2, failure_probability=1.0), "y": phase(1)}),
                "finish": proc("B", {"x": phase(1)}, after=["make"]),
            },
        )
    }
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    log = simulate(build(classes, {"A1": "A", "B1": "B"}, recipes, orders, horizon="1 d"))
    log.check()
    b = log.batches.iloc[0]
    assert b["status"] == "scrapped" and b["quantity"] == 0.0 and b["end_h"] == 2.0
    assert rows(log, "A1") == [("producing", 0, 2), ("cleaning", 2, 3), ("idle", 3, 24)]
    assert rows(log, "B1") == [("idle", 0, 24)]
    kinds = list(log.events["kind"])
    assert "batch_scrapped" in kinds and "batch_completed" not in kinds
    assert kinds.count("phase_started") == 1


def lag_site(on_breach: str, *, parallel: bool = False) -> Site:
    """O1: make (A, 2 h) -> finish (B, 3 h) with max lag 1 h; a 10 h blocker holds B."""
    classes = {"A": {"cleaning": {"method": "cip", "cip": "1 h"}}, "B": {}, "C": {}}
    procs = {
        "make": proc("A", {"x": phase(2)}),
        "finish": proc(
            "B",
            {"x": phase(3)},
            after=[{"procedure": "make", "max_lag": "1 h", "on_breach": on_breach}],
        ),
    }
    if parallel:
        procs["side"] = proc("C", {"x": phase(20)})
    recipes = {
        "r": recipe("p", procs),
        "blk": recipe("q", {"hold": proc("B", {"x": phase(10)})}),
    }
    orders = [
        {"id": "BLK", "product": "q", "batches": 1, "release": START},
        {"id": "O1", "product": "p", "batches": 1, "release": START},
    ]
    return build(classes, {"A1": "A", "B1": "B", "C1": "C"}, recipes, orders, horizon="2 d")


def test_max_lag_breach_with_scrap_scraps_the_batch() -> None:
    log = simulate(lag_site("scrap"), deterministic=True, lookahead=False)
    log.check()
    b = log.batches.set_index("batch").loc["O1-B01"]
    assert b["status"] == "scrapped" and b["quantity"] == 0.0
    assert b["end_h"] == pytest.approx(3.0, abs=1e-2)
    ev = log.events
    dev = ev[(ev["kind"] == "deviation") & (ev["batch"] == "O1-B01")]
    assert len(dev) == 1 and "max lag 1 h" in dev["detail"].item()
    assert not ((ev["procedure"] == "finish") & (ev["kind"] == "procedure_started")).any()
    assert log.batches.set_index("batch").loc["BLK-B01", "status"] == "completed"


def test_scrap_interrupts_the_batch_s_other_running_procedures() -> None:
    log = simulate(lag_site("scrap", parallel=True), deterministic=True, lookahead=False)
    log.check()
    c1 = rows(log, "C1")
    assert c1[0][0] == "producing" and c1[0][2] == pytest.approx(3.0, abs=1e-2)
    assert c1[1][0] == "idle"  # no cleaning declared for class C
    assert (
        not (log.events["kind"] == "phase_completed").loc[log.events["procedure"] == "side"].any()
    )


def test_max_lag_breach_without_scrap_is_a_deviation() -> None:
    log = simulate(lag_site("deviation"), deterministic=True, lookahead=False)
    b = log.batches.set_index("batch").loc["O1-B01"]
    assert b["status"] == "completed"
    ev = log.events
    dev = ev[(ev["kind"] == "deviation") & (ev["batch"] == "O1-B01")]
    assert len(dev) == 1 and dev["t_h"].item() == 10.0
    assert dev["value"].item() == pytest.approx(7.0)  # started at 10 h, limit 2 + 1 h


def test_lookahead_secures_the_destination_before_a_no_wait_source_starts() -> None:
    log = simulate(lag_site("scrap"), deterministic=True)
    b = log.batches.set_index("batch").loc["O1-B01"]
    assert b["status"] == "completed"
    assert rows(log, "A1")[:2] == [("idle", 0, 10), ("producing", 10, 12)]
    assert rows(log, "B1")[:3] == [
        ("producing", 0, 10),
        ("waiting_upstream", 10, 12),
        ("producing", 12, 15),
    ]
    assert not (log.events["kind"] == "deviation").any()


def test_replications_of_a_random_site_differ_but_tile_the_horizon() -> None:
    classes = {
        "A": {
            "reliability": {
                "mtbf": "50 h",
                "model": "weibull",
                "shape": 1.5,
                "mttr": {"distribution": "lognormal", "mean": "2 h", "sd": "1 h"},
            }
        }
    }
    recipes = {
        "r": recipe(
            "p",
            {
                "run": proc(
                    "A",
                    {
                        "x": {
                            "duration": {
                                "distribution": "triangular",
                                "low": "1 h",
                                "mode": "2 h",
                                "high": "4 h",
                            }
                        },
                        "y": {"duration": {"distribution": "normal", "mean": "3 h", "sd": "1 h"}},
                        "z": {"duration": {"distribution": "uniform", "low": "1 h", "high": "2 h"}},
                        "w": {"duration": {"distribution": "exponential", "mean": "1 h"}},
                    },
                )
            },
        )
    }
    orders = [{"id": "O1", "product": "p", "batches": 30, "release": START}]
    site = build(classes, {"A1": "A", "A2": "A"}, recipes, orders, horizon="10 d")
    logs = [simulate(site, seed=s) for s in range(3)]
    for log in logs:
        log.check()
        assert log.state_hours().sum(axis=1).tolist() == pytest.approx([240.0, 240.0])
    assert not logs[0].timeline.equals(logs[1].timeline)


def test_opposite_no_wait_links_in_two_recipes_do_not_deadlock() -> None:
    scrap = {"max_lag": "1 h", "on_breach": "scrap"}
    recipes = {
        "rp": recipe(
            "p",
            {
                "a": proc("X", {"x": phase(2)}),
                "b": proc("Y", {"x": phase(2)}, after=[{"procedure": "a", **scrap}]),
            },
        ),
        "rq": recipe(
            "q",
            {
                "a": proc("Y", {"x": phase(2)}),
                "b": proc("X", {"x": phase(2)}, after=[{"procedure": "a", **scrap}]),
            },
        ),
    }
    orders = [
        {"id": "P", "product": "p", "batches": 3, "release": START},
        {"id": "Q", "product": "q", "batches": 3, "release": START},
    ]
    site = build({"X": {}, "Y": {}}, {"X1": "X", "Y1": "Y"}, recipes, orders, horizon="2 d")
    log = simulate(site, deterministic=True)
    log.check()
    assert (log.batches["status"] != "in_progress").all()
    assert (log.batches["status"] == "completed").sum() >= 1


def _scrap_with_sibling(sibling_class: dict, sibling_phase: dict, release: str = START, **sections):  # type: ignore[no-untyped-def, type-arg]
    classes = {"A": {}, "B": sibling_class}
    recipes = {
        "r": recipe(
            "p",
            {
                "lost": proc("A", {"x": phase(1, failure_probability=1.0)}),
                "sibling": proc("B", {"x": sibling_phase}),
            },
        )
    }
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": release}]
    return simulate(
        build(classes, {"A1": "A", "B1": "B"}, recipes, orders, horizon="7 d", **sections), seed=0
    )


def test_scrap_while_a_sibling_unit_is_under_repair() -> None:
    # B1 fails almost at once and needs 10 h of repair; the batch is lost at 1 h.
    log = _scrap_with_sibling(
        {
            "reliability": {"mtbf": "6 min", "mttr": "10 h"},
            "cleaning": {"method": "cip", "cip": "1 h"},
        },
        phase(5),
    )
    log.check()
    assert log.batches["status"].item() == "scrapped"
    b1 = rows(log, "B1")
    down = [r for r in b1 if r[0] == "down"]
    assert len(down) == 1 and down[0][2] - down[0][1] == pytest.approx(10.0)
    after = b1[b1.index(down[0]) + 1]
    assert after[0] == "cleaning" and after[2] - after[1] == pytest.approx(1.0)
    repair = log.events[log.events["kind"] == "repair"]
    assert len(repair) == 1 and repair["t_h"].item() == pytest.approx(down[0][2])


def test_scrap_while_a_sibling_waits_for_people() -> None:
    pattern = {"shifts": [{"name": "d", "start": "08:00", "duration": "8 h", "days": "weekdays"}]}
    log = _scrap_with_sibling(
        {"cleaning": {"method": "cip", "cip": "1 h"}},
        phase(2, labour=[{"skill": "op"}]),
        release="2027-01-09T10:00",
        shift_patterns={"wd": pattern},
        teams={"t": {"skills": ["op"], "headcount": 1, "shift_pattern": "wd"}},
    )
    log.check()
    # The sibling never started: its unit is released unused (no cleaning), nobody booked.
    b1 = rows(log, "B1")
    assert [r[0] for r in b1] == ["idle", "waiting_labour", "idle"]
    assert b1[1][2] == pytest.approx(131.0)
    assert log.labour.empty
