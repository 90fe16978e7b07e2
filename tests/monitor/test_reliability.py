"""Time to failure with right censoring, and time to repair: worked examples and
recovery of known parameters (Meeker & Escobar 1998)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from phactory.errors import InvalidError
from phactory.monitor.reliability import _weibull_loglik, fit_reliability, read_records


def test_exponential_mle_is_total_time_over_failures() -> None:
    # 1,000 operating hours, 3 failures, one interval censored by preventive maintenance.
    hours = np.array([100.0, 200.0, 300.0, 400.0])
    failed = np.array([True, True, False, True])
    fit = fit_reliability(hours, failed, model="exponential")
    assert fit.model == "exponential" and fit.chosen_by == "requested"
    assert fit.mtbf_h == 1000.0 / 3
    assert (fit.n_failures, fit.n_censored, fit.total_hours) == (3, 1, 1000.0)
    # Chi-square interval: 2T / chi2(0.975; 2r + 2) and 2T / chi2(0.025; 2r), r = 3.
    assert fit.mtbf_ci == pytest.approx((114.06055133051659, 1616.3650550790153), rel=1e-12)
    # Log-likelihood -r ln(MTBF) - r: the censored likelihood, densities of failures and
    # survival of the censored interval.
    expected = (
        stats.expon.logpdf(hours[failed], scale=1000 / 3).sum()
        + stats.expon.logsf(hours[~failed], scale=1000 / 3).sum()
    )
    assert fit.exponential.loglik == pytest.approx(float(expected), rel=1e-12)


@pytest.fixture(scope="module")
def weibull_sample() -> tuple[np.ndarray, np.ndarray]:
    """2,000 Weibull(1.8, 1000 h) lifetimes, censored by maintenance at U(200, 2000) h."""
    rng = np.random.default_rng(2024)
    life = 1000.0 * rng.weibull(1.8, 2000)
    pm = rng.uniform(200.0, 2000.0, 2000)
    return np.minimum(life, pm), life <= pm


def test_weibull_recovers_known_shape_and_scale_within_ci(
    weibull_sample: tuple[np.ndarray, np.ndarray],
) -> None:
    hours, failed = weibull_sample
    assert 0.3 < 1 - failed.mean() < 0.6  # a fair share is censored
    fit = fit_reliability(hours, failed)
    assert fit.model == "weibull" and fit.chosen_by == "aic"
    assert fit.shape_ci is not None and fit.shape_ci[0] <= 1.8 <= fit.shape_ci[1]
    assert fit.scale_ci[0] <= 1000.0 <= fit.scale_ci[1]
    mtbf = 1000.0 * math.gamma(1 + 1 / 1.8)
    assert fit.mtbf_ci[0] <= mtbf <= fit.mtbf_ci[1]
    assert fit.mtbf_h == pytest.approx(fit.scale_h * math.gamma(1 + 1 / fit.shape), rel=1e-14)
    assert fit.lr_p_value is not None and fit.lr_p_value < 1e-6
    assert fit.aic_weibull is not None and fit.aic_weibull < fit.aic_exponential


def test_weibull_is_the_maximum_likelihood(weibull_sample: tuple[np.ndarray, np.ndarray]) -> None:
    """At least as likely as SciPy's own censored fit, and the score vanishes."""
    hours, failed = weibull_sample
    w = fit_reliability(hours, failed).weibull
    assert w is not None
    c, _, scale = stats.weibull_min.fit(stats.CensoredData.right_censored(hours, ~failed), floc=0.0)
    assert w.loglik >= _weibull_loglik(hours, failed, c, scale) - 1e-9
    assert w.shape == pytest.approx(c, rel=1e-3) and w.scale_h == pytest.approx(scale, rel=1e-3)
    for db, de in ((1e-4, 0), (-1e-4, 0), (0, 1e-4), (0, -1e-4)):
        assert _weibull_loglik(hours, failed, w.shape + db, w.scale_h * (1 + de)) <= w.loglik


def test_exponential_data_do_not_need_a_weibull() -> None:
    rng = np.random.default_rng(7)
    life = rng.exponential(500.0, 400)
    pm = rng.uniform(100.0, 1500.0, 400)
    fit = fit_reliability(np.minimum(life, pm), life <= pm)
    assert fit.weibull is not None and fit.weibull.shape_ci is not None
    assert fit.weibull.shape_ci[0] < 1.0 < fit.weibull.shape_ci[1]
    assert fit.model == "exponential"
    assert fit.mtbf_ci[0] <= 500.0 <= fit.mtbf_ci[1]


@settings(max_examples=25, deadline=None)
@given(factor=st.floats(0.01, 100.0), seed=st.integers(0, 1000))
def test_changing_the_time_unit_scales_the_fit(factor: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    life = 100.0 * rng.weibull(2.0, 60)
    pm = rng.uniform(20.0, 200.0, 60)
    hours, failed = np.minimum(life, pm), life <= pm
    assume(np.unique(hours[failed]).size >= 2)
    a = fit_reliability(hours, failed, model="weibull")
    b = fit_reliability(hours * factor, failed, model="weibull")
    assert b.shape == pytest.approx(a.shape, rel=1e-8)
    assert b.mtbf_h == pytest.approx(a.mtbf_h * factor, rel=1e-8)
    assert b.exponential.mtbf_h == pytest.approx(a.exponential.mtbf_h * factor, rel=1e-12)


def test_no_failure_is_refused_with_the_bound_the_data_support() -> None:
    with pytest.raises(InvalidError, match=r"no failure among 2 record\(s\).*MTBF > 1001 h"):
        fit_reliability(np.array([1000.0, 2000.0]), np.array([False, False]))
    with pytest.raises(InvalidError, match="two different failure times"):
        fit_reliability(np.array([10.0, 20.0]), np.array([True, False]), model="weibull")


def test_repair_times_give_mttr_and_a_lognormal() -> None:
    hours = np.array([100.0, 200.0, 300.0, 50.0])
    failed = np.array([True, True, True, False])
    repair = np.array([2.0, 4.0, 8.0, 30.0])  # the preventive 30 h is not a repair
    fit = fit_reliability(hours, failed, repair)
    assert fit.n_repairs == 3 and fit.mttr_h == pytest.approx(14 / 3)
    assert fit.mttr_sd_h == pytest.approx(np.std([2.0, 4.0, 8.0], ddof=1))
    mu, sigma = fit.repair_lognormal or (0, 0)
    assert mu == pytest.approx(math.log(4.0)) and sigma == pytest.approx(
        math.log(2.0) * math.sqrt(2 / 3)
    )


def _records(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "records.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_records_file_and_its_refusals(tmp_path: Path) -> None:
    good = [
        "machine,hours,what,repair",
        "A,100,Failure,3",
        "A,80,pm,1",
        "B,120,failure,5",
        "B,60,running,",
    ]
    rec = read_records(
        _records(tmp_path, good),
        unit_col="machine",
        time_col="hours",
        event_col="what",
        repair_col="repair",
    )
    assert rec.failed.tolist() == [True, False, True, False]
    assert rec.n_units == 2 and rec.events == {"Failure": 1, "pm": 1, "failure": 1, "running": 1}
    bad = {
        "records.csv:3 column 'what': empty cell": ["machine,hours,what", "A,1,failure", "A,2,"],
        "records.csv:3 column 'hours': negative hours": ["machine,hours,what", "A,1,pm", "A,-2,pm"],
        "records.csv:2 column 'hours': a failure after 0": ["machine,hours,what", "A,0,failure"],
        "records.csv:1: no column 'what'": ["machine,hours,event", "A,1,failure"],
        "records.csv: column 'hours' is numeric but has line 3": [
            "machine,hours,what",
            "A,1,pm",
            "A,x,pm",
            *["A,1,pm"] * 20,
        ],
    }
    for message, lines in bad.items():
        with pytest.raises(InvalidError, match=message.replace("(", r"\(")):
            read_records(
                _records(tmp_path, lines), unit_col="machine", time_col="hours", event_col="what"
            )


def test_cumulative_hour_meters(tmp_path: Path) -> None:
    lines = ["unit,meter,event", "A,100,failure", "B,50,pm", "A,250,failure", "B,80,running"]
    rec = read_records(
        _records(tmp_path, lines),
        unit_col="unit",
        time_col="meter",
        event_col="event",
        cumulative=True,
    )
    assert rec.hours.tolist() == [100.0, 50.0, 150.0, 30.0]
    back = ["unit,meter,event", "A,100,failure", "A,90,failure"]
    with pytest.raises(InvalidError, match=r"records.csv:3 column 'meter'.*below.*line 2"):
        read_records(
            _records(tmp_path, back),
            unit_col="unit",
            time_col="meter",
            event_col="event",
            cumulative=True,
        )
