"""PLS calibration of a soft sensor: one PLS1 model per response, components by CV.

Modelling choices
-----------------
* **PLS1 per response**, not one PLS2 for all: each response gets the latent directions
  and the number of components that suit it (a strong band needs fewer than a weak,
  overlapped one). PLS1 is at least as good as PLS2 in most published comparisons
  (Wold, Sjostrom & Eriksson 2001, section 3.6; Brereton 2000) and does not need the
  responses scaled against each other. The fit is scikit-learn's NIPALS
  :class:`~sklearn.cross_decomposition.PLSRegression` with ``scale=False``: scaling is a
  preprocessing step the user chooses (:mod:`.preprocess`), centring is part of PLS.
* **One fit gives every size**: NIPALS extracts components one after the other, so the
  first ``a`` columns of the rotations ``R`` and loadings ``q`` of an ``A``-component
  model *are* the ``a``-component model (``B_a = R[:, :a] q[:a]``). Cross-validation
  fits each fold once with the largest size and reads all sizes from it.
* **Folds**: ``random`` (K folds, repeated ``repeats`` times with a seed; the default),
  ``venetian`` (sample ``i`` in fold ``i mod K``; deterministic, suits data sorted by a
  response), ``contiguous`` (K blocks in file order; use it for time series, where
  neighbouring spectra are alike and random folds would be optimistic). K is capped at
  the number of samples (leave-one-out). The preprocessing is refitted inside every fold
  (MSC reference, means, scales), so the held-out spectra never inform their own model.
* **Number of components: the one-standard-error rule** (Breiman et al. 1984; Hastie,
  Tibshirani & Friedman 2009, section 7.10): the smallest ``a >= 1`` whose RMSECV is within
  one standard error of the minimum. The standard error comes from the spread of the
  per-fold mean squared errors, ``SE(MSE) = sd(fold MSE) / sqrt(K)`` (folds of repeats are
  pooled but divided by the folds of one repeat, since repeats reuse the same samples),
  carried to RMSE by the delta method ``SE(RMSE) = SE(MSE) / (2 RMSECV)``. It guards
  against the over-fitting that picking the bare minimum of a noisy curve invites.

Statistics (per response, in the response's units): ``RMSECV = sqrt(PRESS / n)`` over the
held-out predictions (averaged over repeats); ``RMSEC`` on the calibration set itself;
``Q2 = 1 - PRESS / SS`` with ``SS`` about the mean.

References
----------
Wold, S., Sjostrom, M., Eriksson, L. (2001). PLS-regression: a basic tool of
chemometrics. Chemom. Intell. Lab. Syst. 58, 109-130.
Brereton, R.G. (2000). Introduction to multivariate calibration in analytical chemistry.
Analyst 125, 2125-2154.
Hastie, T., Tibshirani, R., Friedman, J. (2009). The Elements of Statistical Learning,
2nd ed., section 7.10. Springer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.softsensor.domain import cumulative_t2_spe, pca_basis
from phactory.monitor.softsensor.preprocess import Pipeline

__all__ = ["CV_SCHEMES", "CvResult", "choose_components", "cross_validate", "fit_pls1", "folds"]

CV_SCHEMES = ("random", "venetian", "contiguous")


def folds(
    n: int, k: int, scheme: str, *, repeats: int = 1, seed: int = 0
) -> list[list[np.ndarray]]:
    """Held-out index sets: ``repeats`` lists of ``min(k, n)`` folds covering ``0..n-1``.

    Only ``random`` uses ``repeats`` and ``seed``; the other schemes are deterministic and
    give one repeat.
    """
    if scheme not in CV_SCHEMES:
        raise InvalidError(
            f"cross-validation {scheme!r} is unknown (choose {', '.join(CV_SCHEMES)})"
        )
    if k < 2:
        raise InvalidError(f"cross-validation needs at least 2 folds, not {k}")
    k = min(k, n)
    idx = np.arange(n)
    if scheme == "venetian":
        return [[idx[i::k] for i in range(k)]]
    if scheme == "contiguous":
        return [list(np.array_split(idx, k))]
    rng = np.random.default_rng(seed)
    return [list(np.array_split(rng.permutation(n), k)) for _ in range(max(repeats, 1))]


def _pls_paths(
    Xp: np.ndarray, y: np.ndarray, n_components: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Rotations ``R`` (p, A) and y-loadings ``q`` (A,) of a PLS1 fit, and the y mean."""
    from sklearn.cross_decomposition import PLSRegression

    with warnings.catch_warnings():
        # Beyond the rank of the data NIPALS stops with "y residual is constant"; the
        # remaining components are zero, i.e. larger models equal the last useful one.
        warnings.simplefilter("ignore", UserWarning)
        pls = PLSRegression(n_components=n_components, scale=False).fit(Xp, y)
    return pls.x_rotations_, pls.y_loadings_[0], float(pls.intercept_[0])


def fit_pls1(Xp: np.ndarray, y: np.ndarray, n_components: int) -> np.ndarray:
    """Regression vector ``b`` (p,) of a PLS1 model on centred data:
    ``y_hat = (x - mean(X)) b + mean(y)``."""
    r, q, _ = _pls_paths(Xp, y, n_components)
    b: np.ndarray = r @ q
    return b


@dataclass(frozen=True)
class CvResult:
    """Cross-validated errors for 0..A components.

    Attributes
    ----------
    rmsecv
        (r, A + 1) RMSECV per response for 0 (the mean), 1, ... A components.
    se
        (r, A + 1) standard error of each RMSECV.
    ss
        (r,) sum of squares of each response about its mean (for Q2).
    press
        (r, A + 1) prediction error sums of squares (averaged over repeats).
    spe, t2
        (repeats, n, A + 1) held-out SPE and T2 of each spectrum in the PCA of its fold's
        calibration spectra, for 0..A components (for the domain limits).
    n_folds
        Folds per repeat.
    """

    rmsecv: np.ndarray
    se: np.ndarray
    ss: np.ndarray
    press: np.ndarray
    spe: np.ndarray
    t2: np.ndarray
    n_folds: int


def cross_validate(
    X: np.ndarray,
    Y: np.ndarray,
    pipeline: Pipeline,
    fold_sets: list[list[np.ndarray]],
    max_components: int,
) -> CvResult:
    """Cross-validate PLS1 models of every response for 0..``max_components`` components.

    ``X`` (n, p) raw spectra, ``Y`` (n, r) responses; ``pipeline`` is refitted per fold.
    """
    n, r = Y.shape
    width = max_components + 1
    sq = np.zeros((len(fold_sets), n, r, width))
    spe = np.zeros((len(fold_sets), n, width))
    t2 = np.zeros((len(fold_sets), n, width))
    fold_mse: list[np.ndarray] = []
    for rep, fold_list in enumerate(fold_sets):
        for test in fold_list:
            train = np.setdiff1d(np.arange(n), test)
            pipe = pipeline.fresh()
            xtr = pipe.fit_transform(X[train])
            xte = pipe.transform(X[test])
            xmean = xtr.mean(axis=0)
            for k in range(r):
                rot, q, ymean = _pls_paths(xtr, Y[train, k], max_components)
                # Column a of the path: predictions with a components (a = 0: the mean).
                steps = ((xte - xmean) @ rot) * q
                pred = ymean + np.concatenate(
                    [np.zeros((len(test), 1)), np.cumsum(steps, axis=1)], axis=1
                )
                sq[rep, test, k, :] = (pred - Y[test, k][:, None]) ** 2
            mean, loadings, variances = pca_basis(xtr, max_components)
            t2[rep, test], spe[rep, test] = cumulative_t2_spe(xte, mean, loadings, variances, width)
            fold_mse.append(sq[rep, test].mean(axis=0))  # (r, width)
    press = sq.sum(axis=1).mean(axis=0)  # (r, width)
    rmsecv = np.sqrt(press / n)
    k_folds = len(fold_sets[0])
    spread = np.std(np.stack(fold_mse), axis=0, ddof=1) / np.sqrt(k_folds)
    se = spread / (2 * np.maximum(rmsecv, np.finfo(float).tiny))
    ss = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    return CvResult(rmsecv=rmsecv, se=se, ss=ss, press=press, spe=spe, t2=t2, n_folds=k_folds)


def choose_components(rmsecv: np.ndarray, se: np.ndarray) -> int:
    """The one-standard-error choice over one response's curve (index = components).

    The smallest ``a >= 1`` with ``RMSECV(a) <= RMSECV(a*) + SE(a*)``, ``a*`` the minimum
    over ``a >= 1``.
    """
    best = 1 + int(np.argmin(rmsecv[1:]))
    bar = rmsecv[best] + se[best]
    return 1 + int(np.flatnonzero(rmsecv[1:] <= bar)[0])
