"""Control limits of the Hotelling T2 and SPE (Q) statistics: the nominal limits every
monitoring family uses (MSPC, batch evolution, the soft sensors' applicability domain).

* T2 of a new observation scored on a model of ``A`` components fitted on ``n`` samples
  follows a scaled F distribution (Tracy, Young & Mason [1]_, phase II)::

      T2_lim = A (n^2 - 1) / (n (n - A)) * F_{1-alpha}(A, n - A)

* A statistic that is a quadratic form in normal residuals (SPE; a smoothed or
  time-varying T2) is approximated by ``g chi2(h)`` with its first two moments matched
  (Box [2]_): ``g = var / (2 mean)``, ``h = 2 mean^2 / var``
  (:func:`scaled_chi2_limit`, vectorised, for the per-point limits of batch evolution;
  :func:`moment_limit` from samples, Nomikos & MacGregor [4]_). From the eigenvalues of
  the residual covariance, ``theta_i = sum_j lambda_j^i``, the moments are
  ``mean = theta1`` and ``var = 2 theta2`` (:func:`spe_limit_box`).
* Jackson & Mudholkar [3]_: a normal approximation of ``(SPE/theta1)^h0`` with
  ``h0 = 1 - 2 theta1 theta3 / (3 theta2^2)``; three moments matched, a little more
  accurate in the far tail, undefined when ``h0 <= 0`` (a few residual eigenvalues much
  larger than the rest), where :func:`spe_limit` uses Box's instead.

References
----------
.. [1] N. D. Tracy, J. C. Young, R. L. Mason, "Multivariate control charts for individual
   observations", J. Quality Technology 24 (1992) 88-95.
.. [2] G. E. P. Box, "Some theorems on quadratic forms applied in the study of analysis of
   variance problems, I", Ann. Math. Statist. 25 (1954) 290-302.
.. [3] J. E. Jackson, G. S. Mudholkar, "Control procedures for residuals associated with
   principal component analysis", Technometrics 21 (1979) 341-349.
.. [4] P. Nomikos, J. F. MacGregor, "Multivariate SPC charts for monitoring batch
   processes", Technometrics 37 (1995) 41-59.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from phactory.errors import InvalidError

__all__ = [
    "SPE_METHODS",
    "moment_limit",
    "scaled_chi2_limit",
    "spe_limit",
    "spe_limit_box",
    "spe_limit_jackson_mudholkar",
    "t2_limit",
    "thetas",
]

#: Nominal SPE limit methods; the first is the default.
SPE_METHODS: Final = ("box", "jm")


def scaled_chi2_limit(mean: np.ndarray, variance: np.ndarray, alpha: float) -> np.ndarray:
    """``g chi2_{1-alpha}(h)`` with ``g h = mean`` and ``2 g^2 h = variance`` (Box 1954),
    element-wise; a zero variance gives the mean itself and a zero mean gives 0."""
    from scipy.stats import chi2

    m = np.asarray(mean, dtype=float)
    v = np.asarray(variance, dtype=float)
    ok = (m > 0.0) & (v > 0.0)
    safe_m, safe_v = np.where(ok, m, 1.0), np.where(ok, v, 1.0)
    g, h = safe_v / (2.0 * safe_m), 2.0 * safe_m * safe_m / safe_v
    return np.asarray(np.where(ok, g * chi2.ppf(1.0 - alpha, h), np.maximum(m, 0.0)), dtype=float)


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
    if theta1 <= 0.0 or theta2 <= 0.0:
        return 0.0  # no residual variance: every residual is an alarm
    return float(scaled_chi2_limit(np.asarray(theta1), np.asarray(2.0 * theta2), alpha))


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


def moment_limit(values: np.ndarray, alpha: float) -> float:
    """``g chi2_{1-alpha}(h)`` with ``g h`` and ``2 g^2 h`` the mean and variance of the
    finite ``values``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    mean, var = float(v.mean()), float(v.var(ddof=1))
    if mean <= 0.0 or var <= 0.0:
        return float(v.max(initial=0.0))
    return float(scaled_chi2_limit(np.asarray(mean), np.asarray(var), alpha))
