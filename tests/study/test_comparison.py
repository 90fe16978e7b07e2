"""Comparing runs: paired over shared seeds, Welch otherwise; ratios in percentage points."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from phactory.model import Site
from phactory.study import SimulationStudy, compare_studies, run_study
from phactory.study.comparison import compare_replications

Twins = tuple[SimulationStudy, SimulationStudy]

#: One phase of the tiny site's recipe, a quarter of an hour longer in scenario B.
STIR = "recipes.r1.unit_procedures.mix.operations.main.phases.stir.duration"


@pytest.fixture(scope="module")
def twins(tiny_site: Site) -> Twins:
    """Six replications of the tiny site and of a variant whose stir phase takes 3.25 h
    instead of 3 h, with the same base seed: the same failures and durations in both."""
    slower = tiny_site.with_overrides({STIR: "3.25 h"})
    a = run_study(tiny_site, 30, 6, 11, processes=1)
    b = run_study(slower, 30, 6, 11, processes=1)
    return a, b


def test_a_small_consistent_difference_is_found_by_the_paired_test(twins: Twins) -> None:
    a, b = twins
    paired = compare_studies(a, b)
    assert (paired.test, paired.shared_seeds) == ("paired", 6)
    assert paired.method == "paired t-test over 6 shared seeds"
    lead = paired.row("lead_time_h")
    assert lead is not None and lead.diff is not None
    # Every batch waits the extra quarter hour, in every replication; the replications
    # themselves spread by hours (failures, triangular hold times).
    per_seed = [
        y.site["lead_time_h"] - x.site["lead_time_h"]
        for x, y in zip(a.results, b.results, strict=True)
    ]
    assert max(per_seed) - min(per_seed) < 1e-6 < lead.diff
    assert lead.significant and lead.p_value is not None and lead.p_value < 1e-6
    assert lead.ci_low is not None and lead.ci_high is not None
    assert lead.ci_low <= lead.diff <= lead.ci_high
    # Welch's unpaired test on the same replications sees only the spread between seeds:
    # it misses the difference (the defect of issue 12: p = 0.17 for +14 h).
    unpaired = compare_replications(
        [dict(r.site) for r in a.results], [dict(r.site) for r in b.results]
    )
    assert unpaired.test == "welch" and unpaired.shared_seeds == 0
    welch = unpaired.row("lead_time_h")
    assert welch is not None and welch.p_value is not None
    assert not welch.significant and welch.p_value > 0.05
    assert welch.diff == pytest.approx(lead.diff)


def test_ratios_are_shown_in_percentage_points(twins: Twins) -> None:
    a, b = twins
    oee = compare_studies(a, b).row("oee")
    assert oee is not None and oee.ratio and oee.unit == "1"
    diff, low, high, unit = oee.shown()
    assert unit == "pp"
    assert oee.diff is not None and diff == pytest.approx(100 * oee.diff)
    assert low == pytest.approx(100 * oee.ci_low) and high == pytest.approx(100 * oee.ci_high)
    hours = compare_studies(a, b).row("lead_time_h")
    assert hours is not None and not hours.ratio and hours.shown()[3] == "h"


def test_runs_without_shared_seeds_fall_back_to_welch(tiny_site: Site) -> None:
    a = run_study(tiny_site, 20, 3, 1, processes=1)
    b = run_study(tiny_site, 20, 3, 2, processes=1)
    c = compare_studies(a, b)
    assert (c.test, c.shared_seeds) == ("welch", 0)
    assert c.method.startswith("Welch t-test (no shared seeds")
    assert c.covers == "95 % CI of the difference of means B − A"


def test_paired_statistics_are_scipys_paired_t() -> None:
    a = [{"x": v} for v in (1.0, 2.0, 3.5, 2.2)]
    b = [{"x": v} for v in (1.4, 2.3, 4.1, 2.4)]
    c = compare_replications(a, b, [7, 8, 9, 10], [10, 9, 8, 7])  # paired by seed, not order
    row = c.row("x")
    assert row is not None and c.test == "paired"
    expected = stats.ttest_rel([2.4, 4.1, 2.3, 1.4], [1.0, 2.0, 3.5, 2.2])
    assert row.p_value == pytest.approx(float(expected.pvalue))
    ci = expected.confidence_interval(0.95)
    assert (row.ci_low, row.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_undefined_values_drop_their_pair_only() -> None:
    a = [{"x": 1.0}, {"x": None}, {"x": 3.0}, {"x": 4.0}]
    b = [{"x": 2.0}, {"x": 5.0}, {"x": float("nan")}, {"x": 5.5}]
    row = compare_replications(a, b, [1, 2, 3, 4], [1, 2, 3, 4]).row("x")
    assert row is not None and row.n_a == row.n_b == 2  # seeds 1 and 4
    assert row.diff == pytest.approx(1.25)


def test_no_spread_is_significant_iff_there_is_a_difference() -> None:
    same = compare_replications([{"x": 1.0}] * 2, [{"x": 1.0}] * 2, [1, 2], [1, 2]).row("x")
    moved = compare_replications([{"x": 1.0}] * 2, [{"x": 2.0}] * 2, [1, 2], [1, 2]).row("x")
    assert same is not None and (same.p_value, same.significant) == (1.0, False)
    assert moved is not None and (moved.p_value, moved.significant) == (0.0, True)
    one = compare_replications([{"x": 1.0}], [{"x": 2.0}]).row("x")
    assert one is not None and one.diff == 1.0 and one.p_value is None


def test_seed_lists_must_match_the_replications() -> None:
    with pytest.raises(ValueError, match="run A has 2 replications but 1 seeds"):
        compare_replications([{"x": 1.0}, {"x": 2.0}], [{"x": 1.0}], [1], [1])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1e3, 1e3, allow_nan=False), st.floats(-1e3, 1e3, allow_nan=False)),
        min_size=2,
        max_size=12,
    )
)
@example([(0.0, 0.0), (0.0, 5e-324)])  # a spread whose variance underflows
def test_the_paired_interval_holds_the_mean_difference(pairs: list[tuple[float, float]]) -> None:
    seeds = list(range(len(pairs)))
    row = compare_replications(
        [{"x": x} for x, _ in pairs], [{"x": y} for _, y in pairs], seeds, seeds
    ).row("x")
    assert row is not None and row.diff is not None
    assert row.diff == pytest.approx(math.fsum(y - x for x, y in pairs) / len(pairs), abs=1e-9)
    assert row.ci_low is not None and row.ci_high is not None and row.p_value is not None
    assert row.ci_low - 1e-9 <= row.diff <= row.ci_high + 1e-9
    assert 0.0 <= row.p_value <= 1.0


def test_welch_matches_the_textbook_interval() -> None:
    """Unpaired runs: Welch's test and its Welch-Satterthwaite interval, computed by hand."""
    a = [0.60, 0.62, 0.58, 0.61, 0.59]
    b = [0.66, 0.70, 0.64, 0.69, 0.71, 0.65]
    c = compare_replications(
        [{"oee": x, "same": 1.0} for x in a], [{"oee": x, "same": 1.0} for x in b]
    )
    assert c.test == "welch"
    row = c.row("oee")
    assert row is not None and row.diff == pytest.approx(np.mean(b) - np.mean(a))
    assert row.p_value == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
    va, vb = np.var(a, ddof=1) / 5, np.var(b, ddof=1) / 6
    dof = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 5)
    half = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    assert (row.ci_low, row.ci_high) == pytest.approx((row.diff - half, row.diff + half))
    assert row.significant
    same = c.row("same")
    assert same is not None and same.diff == 0 and same.p_value == 1.0 and not same.significant


def test_single_replications_give_a_difference_but_no_test() -> None:
    c = compare_replications([{"x": 1.0}], [{"x": 2.0}])
    row = c.row("x")
    assert row is not None and row.diff == 1.0 and row.p_value is None and not row.significant
