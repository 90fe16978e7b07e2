"""Throughput, cycle and lead time, WIP (Little's law) and on-time delivery."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phactory.events import EventLog
from phactory.kpi import compute

from .helpers import EPOCH, batch, tiny_site, tl


def flow_log() -> EventLog:
    """Six batches over 100 h (see the test for the arithmetic)."""
    batches = [
        batch("B1", "completed", 0, 10, 50, 60, order="O1"),
        batch("B2", "completed", 5, 20, 80, 60, order="O1", quantity=50.0),
        batch("B3", "scrapped", 0, 30, 40, 90, order="O2"),
        batch("B4", "completed", 40, 45, 95, 99, order="O3", patient="P3"),
        batch("B5", "in_progress", 50, 60, None, 200, order="O4"),
        batch("B6", "not_started", 90, None, None, 95, order="O5"),
    ]
    return EventLog(
        horizon_h=100.0,
        units=["U1"],
        timeline=tl("U1", [("idle", 0, 100)]),
        batches=batches,
        epoch=EPOCH,
    )


def test_counts_and_throughput() -> None:
    r = compute(flow_log(), tiny_site())
    s = r.site
    assert s["batches_completed"] == 3 and s["batches_scrapped"] == 1
    assert s["batches_started"] == 5 and s["batches_in_progress"] == 1
    assert s["batch_success_rate"] == pytest.approx(3 / 4)
    assert s["throughput_per_day"] == pytest.approx(3 / (100 / 24))
    assert s["throughput_per_week"] == pytest.approx(3 / (100 / 168))
    assert s["quantity_per_day"] == pytest.approx(250 / (100 / 24))
    assert s["quantity_per_week"] == pytest.approx(250 / (100 / 168))


def test_weekly_throughput() -> None:
    r = compute(flow_log(), tiny_site())
    w = r.weekly_throughput()
    assert list(w["week"]) == [0] and w["batches_completed"].iloc[0] == 3
    assert w["quantity"].iloc[0] == 250 and w["start_h"].iloc[0] == 0


def test_daily_throughput_table() -> None:
    t = compute(flow_log(), tiny_site()).throughput
    assert list(t["day"]) == [0, 1, 2, 3, 4]  # 100 h -> 5 days, the last partial
    assert list(t["batches_completed"]) == [0, 0, 1, 2, 0]  # at 50 | 80, 95 h
    assert list(t["batches_scrapped"]) == [0, 1, 0, 0, 0]  # at 40 h
    assert list(t["batches_started"]) == [2, 2, 1, 0, 0]  # at 10, 20 | 30, 45 | 60
    assert list(t["quantity"]) == [0, 0, 100, 150, 0]
    assert list(t["cumulative_completed"]) == [0, 0, 1, 3, 3]
    assert t["date"].iloc[1] == EPOCH.replace(day=5)


def test_cycle_lead_and_vein_to_vein_times() -> None:
    s = compute(flow_log(), tiny_site()).site
    # cycle: B1 40, B2 60, B4 50; lead: B1 50, B2 75, B4 55.
    assert s["cycle_time_h"] == pytest.approx(50)
    assert s["cycle_time_p50_h"] == pytest.approx(50)
    assert s["cycle_time_p90_h"] == pytest.approx(58)  # 50 + 0.8 * (60 - 50)
    assert s["lead_time_h"] == pytest.approx(60)
    assert s["lead_time_p50_h"] == pytest.approx(55)
    assert s["lead_time_p90_h"] == pytest.approx(71)  # 55 + 0.8 * (75 - 55)
    assert s["vein_to_vein_h"] == pytest.approx(55)  # patient P3 only
    assert s["vein_to_vein_p90_h"] == pytest.approx(55)


def test_wip() -> None:
    s = compute(flow_log(), tiny_site()).site
    # in progress: B1 40 + B2 60 + B3 10 + B4 50 + B5 40 (60 -> horizon) = 200 h
    assert s["wip"] == pytest.approx(200 / 100)
    # released: 50 + 75 + 40 + 55 + 50 + B6 10 (90 -> horizon) = 280 h
    assert s["wip_released"] == pytest.approx(280 / 100)


def test_on_time_delivery() -> None:
    r = compute(flow_log(), tiny_site(plan=None))
    # Due within 100 h: O1 (60: only B1 by then -> late), O2 (scrapped -> late),
    # O3 (95 <= 99 -> on time), O5 (not started -> late). O4 is due after the horizon.
    assert r.site["orders_due"] == 4 and r.site["orders_on_time"] == 1
    assert r.site["on_time_delivery"] == pytest.approx(1 / 4)
    o = r.orders.set_index("order")
    assert not o.loc["O4", "due"] and o.loc["O3", "on_time"]
    assert o.loc["O1", "completed_by_due"] == 1 and o.loc["O1", "required"] == 2


def test_on_time_delivery_uses_order_sizes_of_the_site() -> None:
    # The site's plan says O1 is one batch: B1 by 60 h is then enough.
    log = flow_log()
    r = compute(log, tiny_site(plan=None))
    assert not r.orders.set_index("order").loc["O1", "on_time"]  # log-only: 2 batches
    r = compute(log, tiny_site())
    assert r.orders.set_index("order").loc["O1", "on_time"]
    assert r.site["on_time_delivery"] == pytest.approx(2 / 4)


def test_littles_law() -> None:
    """WIP = throughput x mean cycle time when every batch starts and ends in the window."""
    rng = np.random.default_rng(7)
    starts = rng.uniform(10, 900, 60)
    ends = starts + rng.gamma(4.0, 20.0, 60)
    ends = np.minimum(ends, 999.0)
    batches = [
        batch(f"B{i}", "completed", s - 5, s, e, 2000)
        for i, (s, e) in enumerate(zip(starts, ends, strict=True))
    ]
    log = EventLog(
        horizon_h=1000.0, units=["U1"], timeline=tl("U1", [("idle", 0, 1000)]), batches=batches
    )
    s = compute(log).site
    lam = s["throughput_per_day"] / 24.0  # batches per hour
    assert s["wip"] == pytest.approx(lam * s["cycle_time_h"], rel=1e-12)
    assert s["wip_released"] == pytest.approx(lam * s["lead_time_h"], rel=1e-12)


def test_no_batches() -> None:
    log = EventLog(horizon_h=48.0, units=["U1"], timeline=tl("U1", [("idle", 0, 48)]))
    s = compute(log, tiny_site()).site
    assert s["batches_completed"] == 0 and s["wip"] == 0
    assert math.isnan(s["on_time_delivery"]) and math.isnan(s["co2e_per_batch_kg"])
