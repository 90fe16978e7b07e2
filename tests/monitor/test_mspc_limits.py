"""Control limits, calibration, persistence rules and smoothing of the MSPC statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2, f

from phactory.errors import InvalidError
from phactory.monitor.limits import (
    moment_limit,
    scaled_chi2_limit,
    spe_limit,
    spe_limit_box,
    spe_limit_jackson_mudholkar,
    t2_limit,
    thetas,
)
from phactory.monitor.mspc.limits import calibrate, false_alarm_rate
from phactory.monitor.mspc.rules import k_of_n, parse_persistence
from phactory.monitor.mspc.smoothing import ewma


def test_t2_limit_is_the_tracy_young_mason_f_quantile() -> None:
    a, n, alpha = 3, 20, 0.01
    expected = a * (n * n - 1) / (n * (n - a)) * f.ppf(1 - alpha, a, n - a)
    assert t2_limit(a, n, alpha) == pytest.approx(expected, rel=1e-12)
    # Many samples: the estimation error vanishes and the limit tends to chi2(A).
    assert t2_limit(a, 10**7, alpha) == pytest.approx(chi2.ppf(1 - alpha, a), rel=1e-4)
    with pytest.raises(InvalidError, match="1 <= components < samples"):
        t2_limit(5, 5, alpha)


def test_t2_limit_holds_for_new_observations_of_small_training_sets() -> None:
    # Monte Carlo of phase II: mean and covariance estimated from n samples, T2 of a new
    # one. The chi2 limit (for known parameters) alarms far too often at n = 15; the
    # F-based limit gives the nominal rate.
    rng = np.random.default_rng(5)
    reps, n, a, alpha = 20_000, 15, 3, 0.05
    train = rng.standard_normal((reps, n, a))
    mean = train.mean(axis=1)
    centred = train - mean[:, None, :]
    cov = np.einsum("rni,rnj->rij", centred, centred) / (n - 1)
    new = rng.standard_normal((reps, a)) - mean
    t2 = np.einsum("ri,ri->r", new, np.linalg.solve(cov, new[..., None])[..., 0])
    rate = float((t2 > t2_limit(a, n, alpha)).mean())
    assert rate == pytest.approx(alpha, abs=0.006)  # 4 binomial standard errors
    assert float((t2 > chi2.ppf(1 - alpha, a)).mean()) > 2 * alpha


@pytest.mark.parametrize(
    ("eigenvalues", "tolerance"),
    [([1.0, 1.0, 1.0, 1.0], 0.1), ([3.0, 1.0, 0.5, 0.2, 0.1, 0.05], 0.4)],
)
def test_spe_limits_match_the_quadratic_form(eigenvalues: list[float], tolerance: float) -> None:
    # SPE of normal data is sum(lambda_j z_j^2). Equal eigenvalues: both limits are
    # (nearly) exact. A skewed spectrum: approximations, Box measured 1.23 % and JM
    # 0.68 % at 1 % (hence the calibration on validation data).
    lam = np.array(eigenvalues)
    rng = np.random.default_rng(1)
    spe = (lam * rng.standard_normal((200_000, len(lam))) ** 2).sum(axis=1)
    alpha = 0.01
    for method in ("box", "jm"):
        rate = float((spe > spe_limit(lam, alpha, method)).mean())
        assert rate == pytest.approx(alpha, rel=tolerance), method


def test_box_limit_is_exact_for_equal_eigenvalues() -> None:
    t1, t2, _ = thetas(np.full(4, 2.0))
    assert spe_limit_box(t1, t2, 0.05) == pytest.approx(2.0 * chi2.ppf(0.95, 4), rel=1e-12)


def test_jackson_mudholkar_is_undefined_for_a_skewed_spectrum() -> None:
    # h0 = 1 - 2 theta1 theta3 / (3 theta2^2) <= 0: one large and many small eigenvalues.
    lam = np.array([10.0] + [0.1] * 1000)
    t1, t2, t3 = thetas(lam)
    assert spe_limit_jackson_mudholkar(t1, t2, t3, 0.01) is None
    # ... and the default path falls back on Box instead of failing.
    assert spe_limit(lam, 0.01, "jm") == spe_limit(lam, 0.01, "box")
    with pytest.raises(InvalidError, match="unknown SPE limit"):
        spe_limit(lam, 0.01, "magic")


def test_calibration_hits_the_target_on_the_validation_rows() -> None:
    rng = np.random.default_rng(2)
    t2 = chi2.rvs(3, size=5000, random_state=rng) * 1.3  # the theory is 30 % off
    spe = chi2.rvs(5, size=5000, random_state=rng)
    t2_nom, spe_nom = chi2.ppf(0.99, 3), chi2.ppf(0.99, 5)
    cal = calibrate(t2, spe, t2_nom, spe_nom, 0.01)
    alarm = (t2 > cal.t2_limit) | (spe > cal.spe_limit)
    assert cal.far == float(alarm.mean()) == 0.01  # 50 of 5000 rows, no ties
    assert cal.far_nominal > 0.02  # what the uncalibrated limits would give
    assert cal.t2_limit / t2_nom == pytest.approx(cal.spe_limit / spe_nom) == cal.factor
    assert cal.rows == 5000


def test_calibration_with_a_persistence_rule_and_missing_rows() -> None:
    rng = np.random.default_rng(3)
    t2, spe = rng.chisquare(2, 4000), rng.chisquare(4, 4000)
    t2[:10] = np.nan  # rows without statistics never alarm and are not counted
    cal = calibrate(t2, spe, 9.2, 13.3, 0.02, persistence=(2, 3))
    exceed = (t2 > cal.t2_limit) | (spe > cal.spe_limit)
    alarm = k_of_n(exceed, 2, 3)
    assert false_alarm_rate(alarm, np.isfinite(t2)) == cal.far <= 0.02
    assert cal.far > 0.018 and cal.rows == 3990


def test_calibration_needs_enough_rows() -> None:
    with pytest.raises(InvalidError, match="needs at least 100"):
        calibrate(np.ones(50), np.ones(50), 1.0, 1.0, 0.01)


def test_k_of_n_examples() -> None:
    e = np.array([1, 0, 1, 1, 0, 0, 0, 1], dtype=bool)
    assert k_of_n(e, 1, 1).tolist() == e.tolist()
    assert k_of_n(e, 2, 3).tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    assert k_of_n(e, 3, 3).tolist() == [0] * 8
    assert k_of_n(e, 1, 2).tolist() == [1, 1, 1, 1, 1, 0, 0, 1]


@settings(max_examples=200)
@given(
    st.lists(st.booleans(), min_size=0, max_size=60),
    st.integers(1, 8),
    st.integers(0, 7),
)
def test_k_of_n_is_the_window_count(bits: list[bool], n: int, extra: int) -> None:
    k = max(1, n - extra)
    e = np.array(bits, dtype=bool)
    expected = [sum(bits[max(0, t - n + 1) : t + 1]) >= k for t in range(len(bits))]
    assert k_of_n(e, k, n).tolist() == expected


@settings(max_examples=200)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60), st.integers(1, 6))
def test_k_of_n_is_monotone(pairs: list[tuple[bool, bool]], n: int) -> None:
    # More exceedances never remove an alarm; a stricter k never adds one. This is what
    # makes the bisection of the calibration exact.
    low = np.array([a and b for a, b in pairs], dtype=bool)
    high = np.array([a for a, _ in pairs], dtype=bool)
    for k in range(1, n + 1):
        assert not np.any(k_of_n(low, k, n) & ~k_of_n(high, k, n))
        if k > 1:
            assert not np.any(k_of_n(high, k, n) & ~k_of_n(high, k - 1, n))


@pytest.mark.parametrize("text", ["2/3", " 1 / 1 ", "5/10"])
def test_persistence_text(text: str) -> None:
    k, n = parse_persistence(text)
    assert f"{k}/{n}" == text.replace(" ", "")


@pytest.mark.parametrize("text", ["3", "2-3", "4/3", "0/2", "a/b", "1/100000"])
def test_bad_persistence_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidError, match="persistence"):
        parse_persistence(text)


@settings(max_examples=100)
@given(
    st.lists(st.one_of(st.floats(0, 100), st.just(float("nan"))), min_size=1, max_size=40),
    st.floats(0.05, 1.0),
    st.floats(0, 10),
)
def test_ewma_is_the_recursion_skipping_missing_rows(
    values: list[float], weight: float, start: float
) -> None:
    out = ewma(np.array(values), weight, start)
    state = start
    for x, y in zip(values, out, strict=True):
        if np.isnan(x):
            assert np.isnan(y)
            continue
        state = weight * x + (1 - weight) * state
        assert y == pytest.approx(state, rel=1e-9, abs=1e-9)


def test_ewma_of_columns_keeps_their_sum() -> None:
    rng = np.random.default_rng(4)
    c = rng.random((100, 5))
    smoothed = ewma(c, 0.2, c.mean(axis=0))
    np.testing.assert_allclose(smoothed.sum(axis=1), ewma(c.sum(axis=1), 0.2, c.mean(axis=0).sum()))


def test_moment_limit_matches_chi2_data() -> None:
    values = np.random.default_rng(6).chisquare(6, 100_000) * 2.0
    assert moment_limit(values, 0.01) == pytest.approx(2.0 * chi2.ppf(0.99, 6), rel=0.02)


def test_the_scaled_chi2_limit_is_vectorised_and_matches_box() -> None:
    # Box's limit from eigenvalues is the moment-matched limit with mean theta1 and
    # variance 2 theta2; per-point limits (batch evolution) take arrays of moments.
    t1, t2, _ = thetas(np.array([2.0, 1.0, 0.5]))
    box = spe_limit_box(t1, t2, 0.01)
    many = scaled_chi2_limit(np.array([t1, 3.0, 0.0]), np.array([2 * t2, 0.0, 1.0]), 0.01)
    assert many[0] == pytest.approx(box, rel=1e-12)
    assert many[1] == 3.0 and many[2] == 0.0  # no spread: the mean; nothing: zero
