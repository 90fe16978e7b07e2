"""Dynamic time warping of batch trajectories (Kassidas, MacGregor & Taylor 1998).

Each batch's rows are matched to a reference trajectory of ``n_points`` grid points by
multivariate DTW (dtaidistance's C implementation, symmetric steps, squared Euclidean
local distance) on variables autoscaled over all training rows and weighted:

1. Reference: the training batch of median duration, resampled on the grid by time.
2. Weights: start equal; each of :data:`ITERATIONS` rounds warps every training batch to
   the reference and sets the weight of variable ``j`` inversely proportional to its
   summed squared deviation from the reference after warping (normalised to sum to the
   number of variables), so that variables which are consistent from batch to batch
   drive the warping and noisy ones do not [1]_.
3. The reference is then replaced by the average of the warped training trajectories, as
   Kassidas et al. suggest, which is less noisy than one batch.

A batch's trajectory on the grid is, at each reference point, the average of its rows
matched to it (rows are repeated where one row matches several points) [1]_. A row's
progress is the mean grid position it is matched to, over ``n_points - 1``.

Running batches (open-ended DTW): the path must start at both first points but may end at
any reference point ``j``; the end chosen minimises the accumulated squared distance over
``m + j`` (the length of a symmetric path, so that ends far apart compete fairly), as in
open-end DTW [2]_. A prefix of a batch is therefore not always warped as the same rows of
the complete batch were: the end of the path of the complete batch uses rows that a
running batch has not seen yet.

References
----------
.. [1] A. Kassidas, J. F. MacGregor, P. A. Taylor, "Synchronization of batch trajectories
   using dynamic time warping", AIChE J. 44 (1998) 864-875.
.. [2] P. Tormene, T. Giorgino, S. Quaglini, M. Stefanelli, "Matching incomplete time
   series with dynamic time warping: an algorithm and an application to post-stroke
   rehabilitation", Artif. Intell. Med. 45 (2009) 11-34.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from phactory.monitor.batch.align import Aligned, complete_at, resample
from phactory.monitor.batch.evolution import floored_scale
from phactory.monitor.modelfile import StateReader, array_to_json

__all__ = ["ITERATIONS", "DtwAlignment", "warp"]

#: Rounds of weight updates (Kassidas et al. found three enough).
ITERATIONS = 3


def warp(rows: np.ndarray, reference: np.ndarray, *, open_end: bool) -> tuple[np.ndarray, int]:
    """The DTW path of ``rows`` (m, p) against ``reference`` (n, p), both already scaled
    and weighted.

    Returns
    -------
    path
        ``(L, 2)`` pairs (row, reference point), from (0, 0) to (m - 1, end).
    end
        The last reference point matched (``n - 1`` unless ``open_end``).
    """
    from dtaidistance import dtw, dtw_ndim  # type: ignore[import-untyped]

    a = np.ascontiguousarray(rows, dtype=np.float64)
    b = np.ascontiguousarray(reference, dtype=np.float64)
    _, acc = dtw_ndim.warping_paths(a, b, use_c=True)
    m, n = a.shape[0], b.shape[0]
    end = n - 1
    if open_end:
        # acc holds the square root of the accumulated squared distance.
        last = acc[m, 1:] ** 2 / (m + np.arange(1, n + 1))
        end = int(np.argmin(last))
    path = np.asarray(dtw.best_path(acc, row=m, col=end + 1), dtype=int)
    return path, end


class DtwAlignment:
    """Progress by DTW against a reference trajectory (see the module docstring)."""

    method = "dtw"

    def __init__(
        self,
        mean: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        weights: np.ndarray | None = None,
        reference: np.ndarray | None = None,
        complete_at: float = 1.0,
    ) -> None:
        self.mean = mean
        self.scale = scale
        self.weights = weights
        self.reference = reference
        self.complete_at = complete_at

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        assert self.mean is not None and self.scale is not None and self.weights is not None
        z = (values - self.mean) / self.scale
        # Nothing known yet of a variable (a running batch): at the mean, no pull either way.
        out: np.ndarray = np.nan_to_num(z, nan=0.0) * np.sqrt(self.weights)
        return out

    def _warp(self, values: np.ndarray, open_end: bool) -> tuple[np.ndarray, int]:
        assert self.reference is not None and self.weights is not None
        ref = self.reference * np.sqrt(self.weights)
        return warp(self._scaled(values), ref, open_end=open_end)

    def fit(
        self,
        times: Sequence[np.ndarray],
        values: Sequence[np.ndarray],
        maturity: Sequence[np.ndarray | None],
        grid: np.ndarray,
    ) -> None:
        rows = np.vstack(values)
        self.mean = rows.mean(axis=0)
        sd = rows.std(axis=0, ddof=1) if rows.shape[0] > 1 else np.ones(rows.shape[1])
        self.scale = floored_scale(sd, self.mean)
        p = rows.shape[1]
        self.weights = np.ones(p)
        durations = np.array([t[-1] - t[0] for t in times])
        ref = int(np.argsort(durations, kind="stable")[len(durations) // 2])
        t_ref = times[ref] - times[ref][0]
        self.reference = resample(t_ref / t_ref[-1], (values[ref] - self.mean) / self.scale, grid)
        for _ in range(ITERATIONS):
            dev = np.zeros(p)
            for v in values:
                z = (self.average(v, grid, open_end=False).trajectory - self.mean) / self.scale
                dev += ((z - self.reference) ** 2).sum(axis=0)
            w = 1.0 / np.maximum(dev, 1e-12 * max(float(dev.max()), 1e-300))
            self.weights = w * p / w.sum()
        warped = [self.average(v, grid, open_end=False).trajectory for v in values]
        self.reference = (np.mean(warped, axis=0) - self.mean) / self.scale
        ends = np.array(
            [self.running_end(t, v, None, grid) for t, v in zip(times, values, strict=True)]
        )
        self.complete_at = complete_at(ends)

    def average(self, values: np.ndarray, grid: np.ndarray, *, open_end: bool) -> Aligned:
        """Warp ``values`` (m, p) and average its rows per reference point."""
        path, end = self._warp(values, open_end)
        n = end + 1
        count = np.bincount(path[:, 1], minlength=n)[:n].astype(float)
        traj = np.zeros((n, values.shape[1]))
        np.add.at(traj, path[:, 1], values[path[:, 0]])
        traj /= count[:, None]
        m = values.shape[0]
        pos = np.bincount(path[:, 0], weights=path[:, 1].astype(float), minlength=m)
        hits = np.bincount(path[:, 0], minlength=m)
        progress = pos / hits / (grid.size - 1)
        return Aligned(np.asarray(np.maximum.accumulate(progress), dtype=float), traj)

    def align(
        self,
        time: np.ndarray,
        values: np.ndarray,
        maturity: np.ndarray | None,
        grid: np.ndarray,
        *,
        complete: bool,
    ) -> Aligned:
        return self.average(values, grid, open_end=not complete)

    def running_end(
        self, time: np.ndarray, values: np.ndarray, maturity: np.ndarray | None, grid: np.ndarray
    ) -> float:
        _, end = self._warp(values, True)
        return end / (grid.size - 1)

    def to_state(self) -> dict[str, Any]:
        assert self.mean is not None and self.scale is not None
        assert self.weights is not None and self.reference is not None
        return {
            "method": "dtw",
            "mean": array_to_json(self.mean),
            "scale": array_to_json(self.scale),
            "weights": array_to_json(self.weights),
            "reference": array_to_json(self.reference),
            "complete_at": self.complete_at,
        }

    @classmethod
    def from_state(cls, r: StateReader) -> DtwAlignment:
        return cls(
            r.array("mean"),
            r.array("scale"),
            r.array("weights"),
            r.array("reference"),
            r.number("complete_at"),
        )
