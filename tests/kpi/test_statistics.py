"""Confidence intervals over replications and scenario comparison."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from phactory.kpi import KpiResult, compare, compute, summarise

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


def test_compare_matches_welch() -> None:
    a = [0.60, 0.62, 0.58, 0.61, 0.59]
    b = [0.66, 0.70, 0.64, 0.69, 0.71, 0.65]
    c = compare(
        [fake({"oee": x, "same": 1.0}) for x in a], [fake({"oee": x, "same": 1.0}) for x in b]
    )
    row = c.loc[("site", "oee")]
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert row["diff"] == pytest.approx(np.mean(b) - np.mean(a))
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert bool(row["significant"])
    va, vb = np.var(a, ddof=1) / 5, np.var(b, ddof=1) / 6
    dof = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 5)
    half = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (row["diff"] - half, row["diff"] + half)
    )
    same = c.loc[("site", "same")]
    assert same["diff"] == 0 and same["p_value"] == 1.0 and not same["significant"]


def test_compare_not_significant_and_single_replications() -> None:
    c = compare(
        [fake({"x": v}) for v in (1.0, 2.0, 3.0)], [fake({"x": v}) for v in (1.5, 2.5, 3.5)]
    )
    assert not c.loc[("site", "x"), "significant"]
    c = compare([fake({"x": 1.0})], [fake({"x": 2.0})])
    assert c.loc[("site", "x"), "diff"] == 1.0
    assert math.isnan(c.loc[("site", "x"), "p_value"])
    assert not c.loc[("site", "x"), "significant"]
