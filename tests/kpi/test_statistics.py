"""Confidence intervals over replications and scenario comparison."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from phactory.kpi import KpiResult, compute, summarise

from .helpers import one_unit_log, tiny_site


def fake(site: dict[str, float], units: dict[str, dict[str, float]] | None = None) -> KpiResult:
    """A result carrying only KPI values."""
    empty = pd.DataFrame()
    table = pd.DataFrame.from_dict(units or {}, orient="index")
    return KpiResult(
        site=site,
        units=table,
        loss_tree=empty,
        bottleneck=empty,
        throughput=empty,
        labour=empty,
        energy=empty,
        batches=empty,
        orders=empty,
        bottleneck_unit=None,
        horizon_h=1.0,
    )


def test_student_t_interval_by_hand() -> None:
    xs = [0.60, 0.70, 0.65, 0.75]
    results = [fake({"oee": x}, {"U1": {"oee": x / 2}}) for x in xs]
    s = summarise(results)
    row = s.loc[("site", "oee")]
    mean, sd = np.mean(xs), np.std(xs, ddof=1)
    half = stats.t.ppf(0.975, 3) * sd / 2.0  # t(0.975, 3) = 3.182
    assert row["n"] == 4 and row["mean"] == pytest.approx(0.675)
    assert row["std"] == pytest.approx(sd)
    assert row["half_width"] == pytest.approx(half)
    assert row["half_width"] == pytest.approx(3.182446 * 0.0645497 / 2, rel=1e-5)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((mean - half, mean + half))
    assert s.loc[("U1", "oee"), "mean"] == pytest.approx(0.3375)


def test_one_replication_has_zero_half_width() -> None:
    s = summarise([compute(one_unit_log(), tiny_site())])
    row = s.loc[("site", "oee")]
    assert row["n"] == 1 and row["half_width"] == 0.0 and row["ci_low"] == row["mean"]
    assert ("U1", "availability") in s.index
    names = {
        "throughput_per_day",
        "batches_completed",
        "batches_scrapped",
        "oee",
        "availability",
        "effectiveness",
        "quality_ratio",
        "utilisation",
        "cycle_time_h",
        "lead_time_h",
        "on_time_delivery",
        "labour_utilisation",
        "energy_kwh",
        "co2e_kg",
        "co2e_per_batch_kg",
        "wip",
        "throughput_per_week",
    }
    assert names <= set(s.loc["site"].index)


def test_nan_replications_are_left_out() -> None:
    s = summarise([fake({"x": 1.0}), fake({"x": math.nan}), fake({"x": 3.0})])
    assert s.loc[("site", "x"), "n"] == 2 and s.loc[("site", "x"), "mean"] == 2.0
    s = summarise([fake({"x": math.nan})])
    assert s.loc[("site", "x"), "n"] == 0 and math.isnan(s.loc[("site", "x"), "mean"])
