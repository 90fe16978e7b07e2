"""Time-varying control limits: statistics of the training rows near each grid point.

The rows of the training batches do not fall on the grid (each row has its own progress),
so every per-point quantity (mean and spread of the scores, covariance of the score
deviations, moments of T2 and SPE) is a **kernel average** of the rows near the point: a
Gaussian kernel in progress of standard deviation ``bandwidth``, rows beyond four
bandwidths ignored. The bandwidth is the larger of 1.5 grid steps and the width holding
about :data:`MIN_ROWS_NEAR` rows on average, so that sparse data (few rows per batch)
still gives stable limits while dense data keeps sharp changes (the start of feeding).

Limits of a positive statistic (T2, SPE) at each point are a scaled chi-squared
``g chi2_(1-alpha)(h)`` whose mean and variance match the local mean ``m`` and variance
``v`` of the statistic: ``g = v / (2 m)``, ``h = 2 m^2 / v`` (Box 1954 [1]_; Nomikos &
MacGregor 1995 [2]_ use it for SPE at each time of a batch). Those moments come from the
training batches scored out of sample (cross-validation by batch), so the limits are
those of new batches, not of the batches the model has seen; and then one factor common
to T2 and SPE and to every point is calibrated so that the share of those
cross-validated rows over either limit is the target false-alarm rate
(:func:`calibrate`).

A batch is scored at one of two clocks (:mod:`~phactory.monitor.batch.align`): complete,
on its own, or running, on the reference's. Rows of a batch faster or slower than the
reference sit at another stage on the reference's clock than on their own (with time
alignment especially), so the training rows are scored at both and each clock gets its
own limits: those of running batches are the wider by what a batch's pace adds.

References
----------
.. [1] G. E. P. Box, "Some theorems on quadratic forms applied in the study of analysis
   of variance problems, I. Effect of inequality of variance in the one-way
   classification", Ann. Math. Statist. 25 (1954) 290-302.
.. [2] P. Nomikos, J. F. MacGregor, "Multivariate SPC charts for monitoring batch
   processes", Technometrics 37 (1995) 41-59.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from phactory.monitor.limits import scaled_chi2_limit
from phactory.monitor.modelfile import StateReader, array_to_json

if TYPE_CHECKING:
    from phactory.monitor.batch.evolution import Evolution

__all__ = [
    "CV_FOLDS",
    "MIN_ROWS_NEAR",
    "Limits",
    "bandwidth",
    "calibrate",
    "calibrated_limits",
    "cross_validated_stats",
    "interpolate",
    "local_average",
    "moments_limit",
    "nearest",
]

#: Rows that a kernel should hold on average around each grid point.
MIN_ROWS_NEAR = 100
#: Folds of the cross-validation by batch (leave-one-batch-out with fewer batches).
CV_FOLDS = 10


def bandwidth(n_rows: int, n_points: int) -> float:
    """Kernel standard deviation in progress units [-] (see the module docstring)."""
    step = 1.0 / max(n_points - 1, 1)
    # A Gaussian of sd s holds about 2.5 s of the unit progress axis's rows.
    return float(min(max(1.5 * step, MIN_ROWS_NEAR / (2.5 * max(n_rows, 1))), 0.25))


def local_average(
    progress: np.ndarray, values: np.ndarray, grid: np.ndarray, width: float
) -> np.ndarray:
    """Kernel-weighted average of ``values`` (n, q) at each grid point -> (k, q)."""
    order = np.argsort(progress, kind="stable")
    p, v = progress[order], values[order]
    out = np.empty((grid.size, v.shape[1]))
    lo = np.searchsorted(p, grid - 4.0 * width, side="left")
    hi = np.searchsorted(p, grid + 4.0 * width, side="right")
    for k, g in enumerate(grid):
        a, b = int(lo[k]), int(hi[k])
        if b <= a:
            # No row near this point (a gap in the data): take the nearest rows.
            j = int(np.clip(np.searchsorted(p, g), 1, p.size - 1)) if p.size > 1 else 0
            a, b = max(j - 1, 0), min(j + 1, p.size)
        w = np.exp(-0.5 * ((p[a:b] - g) / width) ** 2)
        w = w / w.sum() if w.sum() > 0 else np.full(b - a, 1.0 / (b - a))
        out[k] = w @ v[a:b]
    return out


def moments_limit(mean: np.ndarray, second: np.ndarray, alpha: float) -> np.ndarray:
    """The scaled chi2 limit from the mean and the mean square of a statistic (a
    variance floor keeps a constant statistic's limit just above it)."""
    m = np.maximum(mean, 1e-300)
    return scaled_chi2_limit(m, np.maximum(second - mean**2, 1e-12 * m**2), alpha)


def interpolate(grid: np.ndarray, values: np.ndarray, progress: np.ndarray) -> np.ndarray:
    """Per-point ``values`` (k,) or (k, q) at each row's progress, linearly."""
    if values.ndim == 1:
        return np.asarray(np.interp(progress, grid, values), dtype=float)
    return np.column_stack(
        [np.interp(progress, grid, values[:, j]) for j in range(values.shape[1])]
    )


def nearest(grid: np.ndarray, progress: np.ndarray) -> np.ndarray:
    """Index of the grid point nearest to each progress value."""
    return np.asarray(np.clip(np.rint(progress * (grid.size - 1)), 0, grid.size - 1), dtype=int)


def calibrate(ratio: np.ndarray, alpha: float) -> float:
    """The factor ``c`` with a share ``alpha`` of ``ratio`` above it.

    ``ratio`` is, for each cross-validated training row, the larger of T2 and SPE over
    their base limits; the final limits are ``c`` times the base limits.
    """
    r = ratio[np.isfinite(ratio)]
    if r.size == 0:
        return 1.0
    return float(np.quantile(r, 1.0 - alpha, method="higher"))


@dataclass(frozen=True, eq=False)
class Limits:
    """Calibrated limits on the grid and the false-alarm rates estimated for them.

    Attributes
    ----------
    t2, spe
        ``(K,)`` limits at each grid point.
    factor
        The calibration factor applied to the base (scaled chi-squared) limits.
    far
        Share of cross-validated rows over a limit calibrated without their fold.
    far_batches
        Share of training batches with at least one such row.
    """

    t2: np.ndarray
    spe: np.ndarray
    factor: float
    far: float
    far_batches: float

    def to_state(self) -> dict[str, Any]:
        return {
            "t2": array_to_json(self.t2),
            "spe": array_to_json(self.spe),
            "factor": self.factor,
            "far": self.far,
            "far_batches": self.far_batches,
        }

    @classmethod
    def from_state(cls, r: StateReader) -> Limits:
        return cls(
            r.array("t2"),
            r.array("spe"),
            r.number("factor"),
            r.number("far"),
            r.number("far_batches"),
        )


def cross_validated_stats(
    refit: Callable[[np.ndarray, np.ndarray], Evolution],
    values: np.ndarray,
    progress: Sequence[np.ndarray],
    owner: np.ndarray,
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """T2 and SPE of every training row by a model fitted without its batch's fold.

    Parameters
    ----------
    refit
        ``refit(train_batches, train_rows)`` fits the model on the batches (bool mask over
        batches) and rows (bool mask over rows) given.
    values
        ``(n, J)`` every training row.
    progress
        One or more ``(n,)`` progress of each row (as complete, as running): the rows
        are scored at each.
    owner
        ``(n,)`` index of each row's batch.

    Returns
    -------
    fold
        ``(n,)`` the fold of each row.
    stats
        ``(t2, spe)`` for each entry of ``progress``.
    """
    n_b = int(owner.max()) + 1
    n_folds = min(n_b, CV_FOLDS)
    fold_of_batch = np.arange(n_b) % n_folds
    fold = fold_of_batch[owner]
    out = [(np.empty(owner.size), np.empty(owner.size)) for _ in progress]
    for f in range(n_folds):
        test = fold == f
        model = refit(fold_of_batch != f, ~test)
        for (t2, spe), p in zip(out, progress, strict=True):
            rs = model.stats(values[test], p[test])
            t2[test], spe[test] = rs.t2, rs.spe
    return fold, out


def calibrated_limits(
    grid: np.ndarray,
    progress: np.ndarray,
    t2: np.ndarray,
    spe: np.ndarray,
    fold: np.ndarray,
    owner: np.ndarray,
    alpha: float,
) -> Limits:
    """Limits from cross-validated T2 and SPE of training rows (module docstring)."""
    width = bandwidth(progress.size, grid.size)
    mom = local_average(progress, np.column_stack([t2, t2**2, spe, spe**2]), grid, width)
    t2_base = moments_limit(mom[:, 0], mom[:, 1], alpha)
    spe_base = np.maximum(moments_limit(mom[:, 2], mom[:, 3], alpha), 1e-12)
    ratio = np.maximum(
        t2 / interpolate(grid, t2_base, progress), spe / interpolate(grid, spe_base, progress)
    )
    factor = calibrate(ratio, alpha)
    over = np.zeros(progress.size, dtype=bool)
    for f in np.unique(fold):
        over[fold == f] = ratio[fold == f] > calibrate(ratio[fold != f], alpha)
    n_b = int(owner.max()) + 1
    return Limits(
        factor * t2_base,
        factor * spe_base,
        factor,
        float(over.mean()),
        float(np.mean([over[owner == b].any() for b in range(n_b)])),
    )
