"""Time in monitoring: lagged variables (dynamic PCA) and one-step-ahead innovations.

Process data are autocorrelated: each sample resembles the last. Static PCA ignores the
order of the rows, so it cannot see a change in how the process moves (its dynamics)
as long as every single sample looks normal. Two ways to give a model the time axis:

* **Lagged variables** (dynamic PCA, Ku, Storer & Georgakis [1]_): each row is extended
  with the ``L`` previous rows, ``[x_t, x_{t-1}, ..., x_{t-L}]``, and PCA fitted on the
  extended rows models the auto- and cross-correlations up to lag ``L``. Contributions of
  the ``L + 1`` copies of a variable are summed back onto it (:func:`fold`).
* **Innovations** (VAR residual monitoring, Pan & Jarrett [2]_): a vector autoregression
  of order ``L`` predicts each row from the ``L`` before it; the one-step-ahead
  prediction error (the innovation) is what the process did that its own past did not
  explain. Innovations are nearly white and far less variable than the data, so PCA on
  them (T2 and SPE of the innovations) sees a change of dynamics, a decoupling of
  variables that normally move together, or a sensor fault, much earlier. The
  autoregression is a ridge regression of the autoscaled row on its ``L`` predecessors,
  its penalty chosen by generalised cross-validation (Golub, Heath & Wahba [3]_): the
  lagged rows are strongly collinear.

Rows must be in time order and evenly sampled. The first ``L`` rows of a file have no
complete past and get no statistics; a missing value blanks its row and the ``L`` after.

References
----------
.. [1] W. Ku, R. H. Storer, C. Georgakis, "Disturbance detection and isolation by dynamic
   principal component analysis", Chemom. Intell. Lab. Syst. 30 (1995) 179-196.
.. [2] X. Pan, J. E. Jarrett, "Using vector autoregressive residuals to monitor
   multivariate processes in the presence of serial correlation", Int. J. Production
   Economics 106 (2007) 204-216.
.. [3] G. H. Golub, M. Heath, G. Wahba, "Generalized cross-validation as a method for
   choosing a good ridge parameter", Technometrics 21 (1979) 215-223.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_autoregression", "fold", "innovations", "lagged"]

#: Ridge penalties tried, relative to the number of rows.
_PENALTIES = np.logspace(-6, 2, 33)


def lagged(z: np.ndarray, lags: int) -> np.ndarray:
    """``[z_t, z_{t-1}, ..., z_{t-lags}]`` per row; the first ``lags`` rows are NaN.

    Columns are lag-major: copy ``l`` of variable ``j`` is column ``l * p + j``.
    """
    n, p = z.shape
    out = np.full((n, p * (lags + 1)), np.nan)
    for lag in range(lags + 1):
        out[lag:, lag * p : (lag + 1) * p] = z[: n - lag]
    return out


def fold(contrib: np.ndarray, p: int, lags: int) -> np.ndarray:
    """Sum the contributions of the ``lags + 1`` copies of each of ``p`` variables."""
    n = contrib.shape[0]
    return np.asarray(contrib.reshape(n, lags + 1, p).sum(axis=1))


def fit_autoregression(z: np.ndarray, lags: int) -> tuple[np.ndarray, float]:
    """Ridge VAR(``lags``) coefficients ``B`` (``(lags p, p)``) and the chosen penalty.

    ``z`` is autoscaled and complete; ``z_t`` is predicted as ``[z_{t-1} ... z_{t-L}] B``.
    """
    n = z.shape[0]
    past = lagged(z, lags)[lags:, z.shape[1] :]
    now = z[lags:]
    u, s, vt = np.linalg.svd(past, full_matrices=False)
    uty = u.T @ now
    rows = past.shape[0]
    best: tuple[float, float] | None = None
    for penalty in _PENALTIES * rows:
        shrink = s * s / (s * s + penalty)
        fitted = u @ (shrink[:, None] * uty)
        rss = float(((now - fitted) ** 2).sum())
        dof = float(shrink.sum())
        gcv = rss / (rows - dof) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, float(penalty))
    assert best is not None and n > lags
    penalty = best[1]
    coef = vt.T @ ((s / (s * s + penalty))[:, None] * uty)
    return np.ascontiguousarray(coef), penalty


def innovations(z: np.ndarray, coef: np.ndarray, lags: int) -> np.ndarray:
    """One-step-ahead prediction errors ``z_t - [z_{t-1} ... z_{t-L}] B`` (NaN first rows)."""
    p = z.shape[1]
    past = lagged(z, lags)[:, p:]
    return np.asarray(z - past @ coef)
