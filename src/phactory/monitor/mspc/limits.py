"""Control limits of the Hotelling T2 and SPE (Q) statistics, nominal and calibrated.

Nominal limits come from distributions that hold for independent, normal samples:

* T2 of a new observation scored on a model of ``A`` components fitted on ``n`` samples
  follows a scaled F distribution (Tracy, Young & Mason [1]_, phase II)::

      T2_lim = A (n^2 - 1) / (n (n - A)) * F_{1-alpha}(A, n - A)

* SPE (the squared prediction error, Q) is a quadratic form in the residuals; with
  ``theta_i = sum_j lambda_j^i`` over the eigenvalues ``lambda_j`` of the residual
  covariance:

  - Box [2]_: ``SPE ~ g chi2(h)`` with ``g = theta2/theta1`` and ``h = theta1^2/theta2``
    (the first two moments matched). **The default**: it is defined for every spectrum.
  - Jackson & Mudholkar [3]_: a normal approximation of ``(SPE/theta1)^h0`` with
    ``h0 = 1 - 2 theta1 theta3 / (3 theta2^2)``; it matches three moments and is a little
    more accurate in the far tail, but is undefined when ``h0 <= 0`` (a few residual
    eigenvalues much larger than the rest), where the Box limit is used instead.

Real process data are autocorrelated and not quite normal, so the nominal limits rarely
give the false-alarm rate they promise. :func:`calibrate` therefore sets the limits on
normal validation data, to the empirical false-alarm rate the user chose: both
statistics are divided by their nominal limits, the alarm raised when either ratio
exceeds a common factor ``s`` (after the persistence rule), and ``s`` chosen as the
smallest value for which the rate of alarmed rows on the validation data is at most the
target. Both limits are then ``s`` times their nominal value: the OR-combined alarm hits
the target on the validation data, with the split between T2 and SPE that the theory
gives.

References
----------
.. [1] N. D. Tracy, J. C. Young, R. L. Mason, "Multivariate control charts for individual
   observations", J. Quality Technology 24 (1992) 88-95.
.. [2] G. E. P. Box, "Some theorems on quadratic forms applied in the study of analysis of
   variance problems, I", Ann. Math. Statist. 25 (1954) 290-302.
.. [3] J. E. Jackson, G. S. Mudholkar, "Control procedures for residuals associated with
   principal component analysis", Technometrics 21 (1979) 341-349.
.. [4] P. Nomikos, J. F. MacGregor, "Multivariate SPC charts for monitoring batch
   processes", Technometrics 37 (1995) 41-59 (the g chi2(h) SPE limit in practice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.mspc.rules import k_of_n

__all__ = [
    "SPE_METHODS",
    "Calibration",
    "calibrate",
    "false_alarm_rate",
    "spe_limit",
    "spe_limit_box",
    "spe_limit_jackson_mudholkar",
    "t2_limit",
    "thetas",
]

#: Nominal SPE limit methods; the first is the default.
SPE_METHODS: Final = ("box", "jm")


def t2_limit(n_components: int, n_samples: int, alpha: float) -> float:
    """Hotelling T2 limit for a new observation (Tracy, Young & Mason 1992).

    Parameters
    ----------
    n_components
        ``A``, the dimension of the score space [-].
    n_samples
        ``n``, the training samples the model was fitted on [-]; ``n > A``.
    alpha
        False-alarm probability per sample [-], in (0, 1).
    """
    from scipy.stats import f

    a, n = n_components, n_samples
    if not 1 <= a < n:
        raise InvalidError(f"a T2 limit needs 1 <= components < samples ({a}, {n})")
    return float(a * (n * n - 1.0) / (n * (n - a)) * f.ppf(1.0 - alpha, a, n - a))


def thetas(eigenvalues: np.ndarray) -> tuple[float, float, float]:
    """``theta_i = sum(lambda^i)``, i = 1, 2, 3, of the residual covariance eigenvalues."""
    lam = np.clip(np.asarray(eigenvalues, dtype=float), 0.0, None)
    return float(lam.sum()), float((lam**2).sum()), float((lam**3).sum())


def spe_limit_box(theta1: float, theta2: float, alpha: float) -> float:
    """SPE limit ``g chi2_{1-alpha}(h)`` (Box 1954), moments matched to ``theta``."""
    from scipy.stats import chi2

    if theta1 <= 0.0 or theta2 <= 0.0:
        return 0.0  # no residual variance: every residual is an alarm
    g, h = theta2 / theta1, theta1 * theta1 / theta2
    return float(g * chi2.ppf(1.0 - alpha, h))


def spe_limit_jackson_mudholkar(
    theta1: float, theta2: float, theta3: float, alpha: float
) -> float | None:
    """SPE limit of Jackson & Mudholkar (1979); ``None`` where undefined (``h0 <= 0``)."""
    from scipy.stats import norm

    if theta1 <= 0.0 or theta2 <= 0.0:
        return 0.0
    h0 = 1.0 - 2.0 * theta1 * theta3 / (3.0 * theta2 * theta2)
    if h0 <= 0.0:
        return None
    c = float(norm.ppf(1.0 - alpha))
    base = c * np.sqrt(2.0 * theta2 * h0 * h0) / theta1 + 1.0
    base += theta2 * h0 * (h0 - 1.0) / (theta1 * theta1)
    if base <= 0.0:
        return None
    return float(theta1 * base ** (1.0 / h0))


def spe_limit(eigenvalues: np.ndarray, alpha: float, method: str = "box") -> float:
    """Nominal SPE limit from the residual covariance ``eigenvalues``.

    ``method`` is ``"box"`` (default) or ``"jm"`` (Jackson-Mudholkar, falling back to
    Box where it is undefined).
    """
    t1, t2, t3 = thetas(eigenvalues)
    if method == "jm":
        jm = spe_limit_jackson_mudholkar(t1, t2, t3, alpha)
        if jm is not None:
            return jm
    elif method != "box":
        raise InvalidError(f"unknown SPE limit {method!r} (known: {', '.join(SPE_METHODS)})")
    return spe_limit_box(t1, t2, alpha)


def false_alarm_rate(alarm: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Share of the ``valid`` rows (default: all) with an alarm [-]."""
    a = np.asarray(alarm, dtype=bool)
    v = np.ones_like(a) if valid is None else np.asarray(valid, dtype=bool)
    n = int(v.sum())
    return float(a[v].sum() / n) if n else float("nan")


@dataclass(frozen=True)
class Calibration:
    """Limits set on validation data, and the false-alarm rates measured there.

    Attributes
    ----------
    t2_limit, spe_limit
        The calibrated limits (``factor`` times the nominal ones).
    factor
        The common factor ``s`` applied to both nominal limits [-].
    far
        Alarm rate on the validation rows with the calibrated limits [-] (at most the
        target; lower only by the granularity of ``1/rows`` and ties).
    far_nominal
        Alarm rate on the validation rows with the nominal limits [-]: how far the
        theory is from these data.
    rows
        Validation rows used (rows with statistics).
    """

    t2_limit: float
    spe_limit: float
    factor: float
    far: float
    far_nominal: float
    rows: int


def calibrate(
    t2: np.ndarray,
    spe: np.ndarray,
    t2_nominal: float,
    spe_nominal: float,
    target_far: float,
    persistence: tuple[int, int] = (1, 1),
) -> Calibration:
    """Scale both nominal limits so that the alarm rate on these rows is ``target_far``.

    Parameters
    ----------
    t2, spe
        The statistics of normal validation rows, in time order; NaN rows (no
        statistics) never alarm and are not counted.
    t2_nominal, spe_nominal
        The nominal limits.
    target_far
        Wanted share of alarmed rows [-].
    persistence
        ``(k, n)``: the alarm rule whose rate is calibrated (:func:`~.rules.k_of_n`).

    The factor is found by bisection over the sorted candidate values, which is exact
    because the alarm of the ``k``-of-``n`` rule can only turn off when the limit rises.
    """
    t2 = np.asarray(t2, dtype=float)
    spe = np.asarray(spe, dtype=float)
    valid = np.isfinite(t2) & np.isfinite(spe)
    rows = int(valid.sum())
    if rows * target_far < 1.0:
        raise InvalidError(
            f"the validation data have {rows} usable rows; calibrating a false-alarm rate "
            f"of {target_far:g} needs at least {int(np.ceil(1.0 / target_far))}"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(t2 / t2_nominal, _safe_ratio(spe, spe_nominal))
    ratio = np.where(valid, ratio, -np.inf)
    k, n = persistence

    def rate(factor: float) -> float:
        return false_alarm_rate(k_of_n(ratio > factor, k, n), valid)

    candidates = np.unique(ratio[valid])
    lo, hi = 0, len(candidates) - 1  # the largest candidate never alarms: rate 0
    while lo < hi:
        mid = (lo + hi) // 2
        if rate(float(candidates[mid])) <= target_far:
            hi = mid
        else:
            lo = mid + 1
    factor = float(candidates[lo])
    return Calibration(
        t2_limit=factor * t2_nominal,
        spe_limit=factor * spe_nominal,
        factor=factor,
        far=rate(factor),
        far_nominal=rate(1.0),
        rows=rows,
    )


def _safe_ratio(spe: np.ndarray, limit: float) -> np.ndarray:
    # A zero SPE limit (no residual space) makes SPE not take part in the alarm.
    if limit <= 0.0:
        return np.zeros_like(spe)
    return spe / limit
