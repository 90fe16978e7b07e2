"""The batch-level model: whole trajectories, one row per batch (SIMCA's "BLM").

The aligned trajectories ``(B, K, J)`` are unfolded batch-wise into ``B`` rows of
``K J`` columns (the value of variable ``j`` at grid point ``k`` is one column; Nomikos &
MacGregor 1994 [1]_). Each column is centred over the batches, which removes the mean
trajectory; each variable is scaled by its typical spread between batches (the root mean
square over its columns of their standard deviations), not each column by its own: the
group scaling of Westerhuis, Kourti & MacGregor [3]_. Scaling every column to unit
variance would magnify the columns in which good batches hardly differ (glucose after it
has run out, a counter still at zero): a good batch that runs out a little later then
looks far more abnormal than a batch run at the wrong temperature.

* **Multiway PCA**: T2 of a complete batch in ``A`` components, limit
  ``A (B^2 - 1) / (B (B - A)) F_(1-alpha)(A, B - A)`` (a new batch [1]_, [2]_); SPE with
  the scaled chi-squared limit (Box) matched to the SPE of each training batch left out
  of the model in turn (so that it is an out-of-sample SPE). ``A``: the components whose
  variance exceeds the average of the non-zero ones (Kaiser), at most
  :data:`MAX_COMPONENTS` and ``B - 3``.
* **PLS to final quality** (when quality is given): the unfolded trajectory predicts the
  autoscaled quality columns (Nomikos & MacGregor's multiway PLS [2]_); the number of
  components minimises the leave-one-batch-out prediction error. A running batch is
  predicted with its future set to the mean trajectory (zero deviation, the first of
  Nomikos & MacGregor's fill-ins [1]_): at the end of the batch the prediction is that of
  the complete batch; early on it leans towards the mean quality.

References
----------
.. [1] P. Nomikos, J. F. MacGregor, "Monitoring batch processes using multiway principal
   component analysis", AIChE J. 40 (1994) 1361-1375.
.. [2] P. Nomikos, J. F. MacGregor, "Multi-way partial least squares in monitoring batch
   processes", Chemometr. Intell. Lab. Syst. 30 (1995) 97-108.
.. [3] J. A. Westerhuis, T. Kourti, J. F. MacGregor, "Comparing alternative approaches for
   multivariate statistical analysis of batch process data", J. Chemometrics 13 (1999)
   397-413.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from phactory.monitor.batch.evolution import principal_axes
from phactory.monitor.limits import moment_limit, t2_limit
from phactory.monitor.modelfile import StateReader, array_to_json

__all__ = ["MAX_COMPONENTS", "BatchLevel", "LevelStats", "fit_level"]

#: Most components of the batch-level models.
MAX_COMPONENTS = 10
_QUALITY_ARRAYS = ("q_mean", "q_scale", "q_coef", "q_intercept", "q_rmsecv", "q_rmse_mean")


@dataclass(frozen=True, eq=False)
class LevelStats:
    """T2 and SPE of a complete batch, and each variable's share of its SPE (J,)."""

    t2: float
    spe: float
    contributions: np.ndarray


@dataclass(frozen=True, eq=False)
class BatchLevel:
    """A fitted batch-level model (see the module docstring).

    ``q_coef`` (K J, r) and ``q_intercept`` (r,) predict the autoscaled quality;
    ``q_rmsecv`` and ``q_rmse_mean`` (r,) are the leave-one-batch-out errors of the model
    and of predicting the training mean, in quality units.
    """

    n_vars: int
    mean: np.ndarray
    scale: np.ndarray
    loadings: np.ndarray
    score_var: np.ndarray
    t2_limit: float
    spe_limit: float
    quality: tuple[str, ...] = ()
    q_mean: np.ndarray | None = None
    q_scale: np.ndarray | None = None
    q_coef: np.ndarray | None = None
    q_intercept: np.ndarray | None = None
    q_rmsecv: np.ndarray | None = None
    q_rmse_mean: np.ndarray | None = None

    def __post_init__(self) -> None:
        # C-ordered arrays, as a reloaded model's (see Evolution.__post_init__).
        for name in ("mean", "scale", "loadings", "score_var", *_QUALITY_ARRAYS):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, np.ascontiguousarray(value, float))

    def unfold(self, trajectory: np.ndarray) -> np.ndarray:
        """Scaled, unfolded row of a trajectory on the first ``k`` grid points; points not
        reached yet (and missing values) are at the mean (zero)."""
        x = np.zeros(self.mean.size)
        n = trajectory.size
        x[:n] = (trajectory.ravel() - self.mean[:n]) / self.scale[:n]
        return np.where(np.isnan(x), 0.0, x)

    def stats(self, trajectory: np.ndarray) -> LevelStats:
        """T2, SPE and SPE contributions of a complete batch's trajectory (K, J)."""
        x = self.unfold(trajectory)
        t = x @ self.loadings
        r = x - t @ self.loadings.T
        t2 = float(np.sum(t**2 / self.score_var))
        spe = float(r @ r)
        contrib = (r**2).reshape(-1, self.n_vars).sum(axis=0) / max(self.spe_limit, 1e-300)
        return LevelStats(t2, spe, contrib)

    def predict(self, trajectory: np.ndarray) -> dict[str, float] | None:
        """Predicted final quality from a trajectory on the first ``k`` grid points."""
        if self.q_coef is None or self.q_intercept is None:
            return None
        assert self.q_mean is not None and self.q_scale is not None
        y = (self.unfold(trajectory) @ self.q_coef + self.q_intercept) * self.q_scale
        y = y + self.q_mean
        return {name: float(v) for name, v in zip(self.quality, y, strict=True)}

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "n_vars": self.n_vars,
            "mean": array_to_json(self.mean),
            "scale": array_to_json(self.scale),
            "loadings": array_to_json(self.loadings),
            "score_var": array_to_json(self.score_var),
            "t2_limit": self.t2_limit,
            "spe_limit": self.spe_limit,
            "quality": list(self.quality),
        }
        if self.quality:
            for name in _QUALITY_ARRAYS:
                state[name] = array_to_json(getattr(self, name))
        return state

    @classmethod
    def from_state(cls, r: StateReader) -> BatchLevel:
        quality = r.texts("quality")
        extra = [r.array(n) for n in _QUALITY_ARRAYS] if quality else []
        return cls(
            r.integer("n_vars"),
            r.array("mean"),
            r.array("scale"),
            r.array("loadings"),
            r.array("score_var"),
            r.number("t2_limit"),
            r.number("spe_limit"),
            quality,
            *extra,
        )


def _scaling(x: np.ndarray, n_vars: int) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1)
    typical = np.sqrt(np.mean(sd.reshape(-1, n_vars) ** 2, axis=0))
    return mean, np.tile(np.where(typical > 0, typical, 1.0), sd.size // n_vars)


def _pca(x: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    axes, ss = principal_axes(x)
    return axes[:, :n_max], ss[:n_max] / max(x.shape[0] - 1, 1)


def fit_level(
    aligned: np.ndarray,
    *,
    target_far: float,
    quality: np.ndarray | None = None,
    quality_names: Sequence[str] = (),
) -> BatchLevel:
    """Fit the batch-level models on ``(B, K, J)`` aligned trajectories.

    ``quality`` is ``(B, r)`` final quality of the same batches (complete, finite).
    """
    n_b, n_k, n_j = aligned.shape
    x_raw = aligned.reshape(n_b, n_k * n_j)
    mean, scale = _scaling(x_raw, n_j)
    x = (x_raw - mean) / scale
    a_max = max(1, min(MAX_COMPONENTS, n_b - 3))
    loadings, var = _pca(x, a_max)
    nonzero = var[var > 1e-12 * max(float(var[0]), 1e-300)] if var.size else var
    total = float(((x**2).sum()) / max(n_b - 1, 1))
    average = total / max(min(n_b - 1, n_k * n_j), 1)
    a = max(1, min(int(np.sum(nonzero > average)), a_max))
    loadings, var = loadings[:, :a], var[:a]
    spe_cv = np.empty(n_b)
    for b in range(n_b):
        rest = np.delete(x_raw, b, axis=0)
        m, s = _scaling(rest, n_j)
        p, _ = _pca((rest - m) / s, a)
        xb = (x_raw[b] - m) / s
        r = xb - (xb @ p) @ p.T
        spe_cv[b] = r @ r
    spe_limit = moment_limit(spe_cv, target_far)
    t2_lim = t2_limit(a, n_b, target_far)  # a <= B - 3 by construction
    level = BatchLevel(n_j, mean, scale, loadings, np.maximum(var, 1e-300), t2_lim, spe_limit)
    if quality is None or not len(quality_names):
        return level
    return _with_quality(level, x_raw, np.asarray(quality, dtype=float), tuple(quality_names))


def _pls_coef(x: np.ndarray, y: np.ndarray, a: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (one per component count 1..a) and intercepts of PLS ``y ~ x``."""
    from sklearn.cross_decomposition import PLSRegression

    pls = PLSRegression(n_components=a, scale=False).fit(x, y)
    r = np.asarray(pls.x_rotations_, dtype=float)
    q = np.asarray(pls.y_loadings_, dtype=float)
    # NIPALS components are nested: the first c columns are the c-component model.
    coefs = np.stack([r[:, :c] @ q[:, :c].T for c in range(1, a + 1)])
    x_mean = x.mean(axis=0)
    y_mean = y.mean(axis=0)
    intercepts = y_mean - np.einsum("j,cjr->cr", x_mean, coefs)
    return coefs, intercepts


def _with_quality(
    level: BatchLevel, x_raw: np.ndarray, quality: np.ndarray, names: tuple[str, ...]
) -> BatchLevel:
    n_b = x_raw.shape[0]
    a_max = max(1, min(MAX_COMPONENTS, n_b - 2))
    press = np.zeros((a_max, quality.shape[1]))
    press_mean = np.zeros(quality.shape[1])
    for b in range(n_b):
        rest_x, rest_y = np.delete(x_raw, b, axis=0), np.delete(quality, b, axis=0)
        m, s = _scaling(rest_x, level.n_vars)
        ym, ys = rest_y.mean(axis=0), _sd(rest_y)
        coefs, icpt = _pls_coef((rest_x - m) / s, (rest_y - ym) / ys, a_max)
        xb = (x_raw[b] - m) / s
        pred = (np.einsum("j,cjr->cr", xb, coefs) + icpt) * ys + ym
        press += (pred - quality[b]) ** 2
        press_mean += (ym - quality[b]) ** 2
    a = int(np.argmin((press / np.maximum(press_mean, 1e-300)).sum(axis=1))) + 1
    ym, ys = quality.mean(axis=0), _sd(quality)
    x = (x_raw - level.mean) / level.scale
    coefs, icpt = _pls_coef(x, (quality - ym) / ys, a)
    return replace(
        level,
        quality=names,
        q_mean=ym,
        q_scale=ys,
        q_coef=coefs[-1],
        q_intercept=icpt[-1],
        q_rmsecv=np.sqrt(press[a - 1] / n_b),
        q_rmse_mean=np.sqrt(press_mean / n_b),
    )


def _sd(y: np.ndarray) -> np.ndarray:
    sd = y.std(axis=0, ddof=1) if y.shape[0] > 1 else np.ones(y.shape[1])
    return np.where(sd > 0, sd, 1.0)
