"""Shifting bottleneck detection (Roser et al. 2002)."""

from __future__ import annotations

import pandas as pd
import pytest

from phactory.events import EventLog
from phactory.kpi import active_periods, compute

from .helpers import tl


def roser_log() -> EventLog:
    """Three units over 100 h.

    A: active 0-30 (producing, down, waiting_labour), waiting_upstream 30-40, active
       40-60, idle 60-100. B: waiting_upstream 0-20, active 20-70, blocked 70-100.
    C: setup 0-10, idle 10-80, producing 80-100.
    """
    rows = tl(
        "A",
        [
            ("producing", 0, 12),
            ("down", 12, 18),
            ("waiting_labour", 18, 22),
            ("producing", 22, 30),
            ("waiting_upstream", 30, 40),
            ("producing", 40, 60),
            ("idle", 60, 100),
        ],
    )
    rows += tl(
        "B",
        [
            ("waiting_upstream", 0, 20),
            ("cleaning", 20, 25),
            ("producing", 25, 70),
            ("blocked", 70, 100),
        ],
    )
    rows += tl("C", [("setup", 0, 10), ("idle", 10, 80), ("producing", 80, 100)])
    return EventLog(horizon_h=100.0, units=["A", "B", "C"], timeline=rows)


def test_active_periods() -> None:
    p = active_periods(roser_log().timeline)
    got = {(u, s, e) for u, s, e in zip(p["unit"], p["start_h"], p["end_h"], strict=True)}
    assert got == {("A", 0, 30), ("A", 40, 60), ("B", 20, 70), ("C", 0, 10), ("C", 80, 100)}


def test_sole_and_shifting_shares_by_hand() -> None:
    # Momentary bottleneck: A (period 0-30, 30 h) on 0-20, B (20-70, 50 h) on 20-70,
    # none on 70-80, C (80-100) on 80-100. A's and B's periods overlap on 20-30:
    # both shift there. A: sole 0-20, shifting 20-30; B: shifting 20-30, sole 30-70;
    # C: sole 80-100.
    r = compute(roser_log())
    b = r.bottleneck.set_index("unit")
    assert b.loc["A", "sole_share"] == pytest.approx(0.2)
    assert b.loc["A", "shifting_share"] == pytest.approx(0.1)
    assert b.loc["B", "sole_share"] == pytest.approx(0.4)
    assert b.loc["B", "shifting_share"] == pytest.approx(0.1)
    assert b.loc["C", "sole_share"] == pytest.approx(0.2)
    assert b.loc["C", "shifting_share"] == pytest.approx(0.0)
    assert b.loc["B", "momentary_share"] == pytest.approx(0.5)
    assert b.loc["A", "mean_active_period_h"] == pytest.approx(25)
    assert list(r.bottleneck["unit"]) == ["B", "A", "C"]
    assert r.bottleneck_unit == "B"
    assert r.site["bottleneck_share"] == pytest.approx(0.5)
    assert r.units.loc["B", "bottleneck_share"] == pytest.approx(0.5)


def test_three_way_overlap() -> None:
    # X 0-40 (40 h), Y 10-60 (50 h), Z 20-80 (60 h): momentary X 0-10, Y 10-20, Z 20-80.
    # Overlaps: X∩Y = 10-40, Y∩Z = 20-60. X: shifting 30, sole 10 (0-10).
    # Y: shifting |10-40 ∪ 20-60| = 50, sole 0. Z: shifting 40 (20-60), sole 60-80 = 20.
    rows = tl("X", [("producing", 0, 40), ("idle", 40, 100)])
    rows += tl("Y", [("idle", 0, 10), ("producing", 10, 60), ("idle", 60, 100)])
    rows += tl("Z", [("idle", 0, 20), ("producing", 20, 80), ("idle", 80, 100)])
    b = compute(
        EventLog(horizon_h=100.0, units=["X", "Y", "Z"], timeline=rows)
    ).bottleneck.set_index("unit")
    assert (b.loc["X", "sole_h"], b.loc["X", "shifting_h"]) == (10, 30)
    assert (b.loc["Y", "sole_h"], b.loc["Y", "shifting_h"]) == (0, 50)
    assert (b.loc["Z", "sole_h"], b.loc["Z", "shifting_h"]) == (20, 40)


def test_no_active_unit() -> None:
    log = EventLog(horizon_h=10.0, units=["A"], timeline=tl("A", [("idle", 0, 10)]))
    r = compute(log)
    assert r.bottleneck_unit is None and r.site["bottleneck_share"] == 0.0


def test_pool_is_active_only_while_all_its_units_are() -> None:
    from phactory.kpi.bottleneck import pool_periods

    periods = pd.DataFrame(
        {
            "unit": ["A", "A", "B", "C"],
            "start_h": [0.0, 20.0, 5.0, 0.0],
            "end_h": [10.0, 30.0, 25.0, 50.0],
        }
    )
    periods["length_h"] = periods["end_h"] - periods["start_h"]
    out = pool_periods(periods, {"A": "pool", "B": "pool", "C": "C"})
    pool = out[out["unit"] == "pool"][["start_h", "end_h"]].to_numpy().tolist()
    assert pool == [[5.0, 10.0], [20.0, 25.0]]
    assert out[out["unit"] == "C"]["length_h"].tolist() == [50.0]
