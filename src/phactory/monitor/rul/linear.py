"""Ridge regression on the window features: the linear baseline of the RUL benchmark.

Features are standardised (missing values replaced by the training mean, i.e. zero after
standardisation); the penalty is chosen by grouped K-fold cross-validation over units
(rows of one unit never straddle a fold), and the coefficients come from the normal
equations ``(Z'Z + alpha I) b = Z'(y - mean y)`` [1]_, so that predicting needs the stored
arrays only.

References
----------
.. [1] A. E. Hoerl, R. W. Kennard, "Ridge regression: biased estimation for
   nonorthogonal problems", Technometrics 12 (1), 1970, 55-67.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from phactory.monitor.modelfile import StateReader, array_to_json

__all__ = ["RidgeModel", "fit_ridge"]

#: Penalties tried [on standardised features].
ALPHAS = tuple(10.0**k for k in range(-3, 5))
#: Folds of the grouped cross-validation.
FOLDS = 5


@dataclass(frozen=True)
class RidgeModel:
    """``y = intercept + ((x - mean) / scale) @ coef``, missing ``x`` read as the mean."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    alpha: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        z = (np.asarray(X, dtype=float) - self.mean) / self.scale
        z = np.where(np.isfinite(z), z, 0.0)
        out: np.ndarray = z @ self.coef + self.intercept
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "linear",
            "mean": array_to_json(self.mean),
            "scale": array_to_json(self.scale),
            "coef": array_to_json(self.coef),
            "intercept": self.intercept,
            "alpha": self.alpha,
        }

    @classmethod
    def from_state(cls, r: StateReader, n_features: int) -> RidgeModel:
        m = cls(
            mean=r.array("mean").astype(float),
            scale=r.array("scale").astype(float),
            coef=r.array("coef").astype(float),
            intercept=r.number("intercept"),
            alpha=r.number("alpha"),
        )
        if not m.mean.shape == m.scale.shape == m.coef.shape == (n_features,):
            raise ValueError(f"the ridge arrays must have {n_features} values each")
        return m


class _Normal:
    """The centred normal equations of one data set, solved for any penalty."""

    def __init__(self, z: np.ndarray, y: np.ndarray) -> None:
        self.ym = float(y.mean())
        self.zm = z.mean(axis=0)
        zc = z - self.zm
        self.gram = zc.T @ zc
        self.rhs = zc.T @ (y - self.ym)

    def solve(self, alpha: float) -> tuple[np.ndarray, float]:
        coef = np.linalg.solve(self.gram + alpha * np.eye(self.gram.shape[0]), self.rhs)
        return coef, self.ym - float(self.zm @ coef)


def fit_ridge(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int, alpha: float | None = None
) -> RidgeModel:
    """Fit the ridge model; ``alpha`` by grouped cross-validation unless given.

    Parameters
    ----------
    X
        ``(n, f)`` features (NaN = missing).
    y
        ``(n,)`` target.
    groups
        ``(n,)`` unit of each row (folds never split a unit).
    seed
        Seed of the assignment of units to folds.
    alpha
        A fixed penalty (the interval model reuses the point model's).
    """
    mean = np.nanmean(X, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    sd = np.nanstd(X, axis=0)
    scale = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    z = (X - mean) / scale
    z = np.where(np.isfinite(z), z, 0.0)
    if alpha is None:
        labels, unit = np.unique(groups, return_inverse=True)
        k = min(FOLDS, labels.size)
        if k < 2:
            alpha = 1.0
        else:
            fold = (np.random.default_rng(seed).permutation(labels.size) % k)[unit]
            errors = np.zeros(len(ALPHAS))
            for f in range(k):
                tr, te = fold != f, fold == f
                normal = _Normal(z[tr], y[tr])
                for i, a in enumerate(ALPHAS):
                    coef, b = normal.solve(a)
                    errors[i] += float(((z[te] @ coef + b - y[te]) ** 2).sum())
            alpha = ALPHAS[int(np.argmin(errors))]
    coef, intercept = _Normal(z, y).solve(alpha)
    return RidgeModel(mean, scale, coef, intercept, float(alpha))
