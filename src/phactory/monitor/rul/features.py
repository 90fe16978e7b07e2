"""Features of a sensor history at each row: operating-regime normalisation and windows.

Two steps, both fitted on the training units and stored in the model file:

1. **Operating regimes** (only when operating-setting columns are named). A machine run
   at several operating conditions (altitude, Mach number and throttle in NASA's
   C-MAPSS FD002/FD004) has sensor levels set mostly by the condition, which hides the
   slow drift of degradation. The settings are standardised and clustered with k-means;
   each sensor is then standardised with its mean and standard deviation *within* the
   row's regime, which removes the condition's offset [1]_ [2]_. The number of regimes is
   the k (2-8) of best silhouette [3]_ when that silhouette is at least 0.5 (discrete
   operating points, as in C-MAPSS, score near 1), else 1 (settings that only jitter, or
   vary continuously: name the number with ``n_regimes`` then). Rows are assigned to the
   nearest centre by NumPy, at fit and at prediction alike.
2. **Windows.** For each row, over the unit's last ``window`` rows (fewer at the start of
   a history): the current value, the mean, the least-squares slope against time [per
   time unit] and the standard deviation of every sensor; plus the unit's age (time since
   its first row), which informs RUL when histories start at the unit's (re)commissioning
   as in C-MAPSS (turn it off when they do not).

Columns that are constant over the training rows (after regime normalisation, so that a
sensor set by the regime alone is dropped too) carry no information and are dropped; the
model records them.

References
----------
.. [1] F. O. Heimes, "Recurrent neural networks for remaining useful life estimation",
   Proc. Int. Conf. Prognostics and Health Management (PHM), 2008.
.. [2] E. Ramasso, A. Saxena, "Performance benchmarking and analysis of prognostic methods
   for CMAPSS datasets", Int. J. Prognostics and Health Management 5 (2), 2014.
.. [3] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation
   of cluster analysis", J. Comput. Appl. Math. 20, 1987, 53-65.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from phactory.monitor.modelfile import StateReader, array_to_json

__all__ = ["Regimes", "drop_constant", "feature_names", "fit_regimes", "window_features"]

#: Rows per block when building window features (bounds memory to ~ block x window).
_BLOCK = 16384
#: Silhouette below which the settings are taken as one regime (no discrete clusters).
_MIN_SILHOUETTE = 0.5
#: Most regimes tried.
_MAX_REGIMES = 8
#: Rows used to choose and fit the regimes (k-means on more adds nothing for a few points).
_REGIME_SAMPLE = 5000


@dataclass(frozen=True)
class Regimes:
    """Operating regimes (k-means on standardised settings) and per-regime sensor scaling.

    Attributes
    ----------
    setting_mean, setting_scale
        ``(s,)`` standardisation of the setting columns.
    centres
        ``(k, s)`` regime centres in standardised setting space.
    mean, scale
        ``(k, p)`` mean and standard deviation of each sensor within each regime (scale 1
        where a sensor does not vary within a regime).
    """

    setting_mean: np.ndarray
    setting_scale: np.ndarray
    centres: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @property
    def k(self) -> int:
        return int(self.centres.shape[0])

    def assign(self, settings: np.ndarray) -> np.ndarray:
        """Regime of each row: the nearest centre (lowest index on ties)."""
        z = (settings - self.setting_mean) / self.setting_scale
        d = ((z[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        lab: np.ndarray = np.argmin(d, axis=1)
        return lab

    def normalise(self, sensors: np.ndarray, settings: np.ndarray) -> np.ndarray:
        """Sensors standardised within each row's regime."""
        lab = self.assign(settings)
        out: np.ndarray = (sensors - self.mean[lab]) / self.scale[lab]
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "setting_mean": array_to_json(self.setting_mean),
            "setting_scale": array_to_json(self.setting_scale),
            "centres": array_to_json(self.centres),
            "mean": array_to_json(self.mean),
            "scale": array_to_json(self.scale),
        }

    @classmethod
    def from_state(cls, r: StateReader) -> Regimes:
        return cls(
            setting_mean=r.array("setting_mean"),
            setting_scale=r.array("setting_scale"),
            centres=r.array("centres"),
            mean=r.array("mean"),
            scale=r.array("scale"),
        )


def _scale(x: np.ndarray, axis: int = 0) -> np.ndarray:
    s = np.nanstd(x, axis=axis)
    return np.where(np.isfinite(s) & (s > 0), s, 1.0)


def _choose_k(z: np.ndarray, n_regimes: int | None, seed: int) -> int:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    distinct = len(np.unique(np.round(z, 9), axis=0))
    if n_regimes is not None:
        return max(1, min(n_regimes, distinct))
    top = min(_MAX_REGIMES, distinct)
    if top < 2:
        return 1
    sil = {}
    for k in range(2, top + 1):
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(z).labels_
        sil[k] = float(
            silhouette_score(z, labels, sample_size=min(2000, len(z)), random_state=seed)
        )
    best = max(sil, key=lambda k: sil[k])
    return best if sil[best] >= _MIN_SILHOUETTE else 1


def fit_regimes(
    settings: np.ndarray, sensors: np.ndarray, n_regimes: int | None, seed: int
) -> Regimes:
    """Cluster the operating settings and fit per-regime sensor standardisation.

    Parameters
    ----------
    settings
        ``(n, s)`` operating-setting columns of the training rows (complete).
    sensors
        ``(n, p)`` sensor columns of the same rows.
    n_regimes
        Number of regimes, or ``None`` to choose it (see the module docstring).
    seed
        Seed of k-means (several starts; the best inertia is kept).
    """
    from sklearn.cluster import KMeans

    mean = settings.mean(axis=0)
    scale = _scale(settings)
    z = (settings - mean) / scale
    rng = np.random.default_rng(seed)
    sample = z if len(z) <= _REGIME_SAMPLE else z[rng.choice(len(z), _REGIME_SAMPLE, False)]
    k = _choose_k(sample, n_regimes, seed)
    centres = (
        sample.mean(axis=0, keepdims=True)
        if k == 1
        else KMeans(n_clusters=k, n_init=5, random_state=seed).fit(sample).cluster_centers_
    )
    # Order the centres so that the model file does not depend on k-means' label order.
    centres = centres[np.lexsort(centres.T[::-1])]
    regimes = Regimes(mean, scale, np.asarray(centres, dtype=float), np.zeros(0), np.zeros(0))
    lab = regimes.assign(settings)
    p = sensors.shape[1]
    r_mean = np.zeros((k, p))
    r_scale = np.ones((k, p))
    overall_mean = np.nanmean(sensors, axis=0)
    for j in range(k):
        rows = sensors[lab == j]
        if len(rows) >= 2:
            r_mean[j] = np.nanmean(rows, axis=0)
            r_scale[j] = _scale(rows)
        else:  # a regime seen once or never in training: the overall level, no scaling
            r_mean[j] = rows[0] if len(rows) else overall_mean
    return Regimes(mean, scale, regimes.centres, r_mean, r_scale)


def drop_constant(values: np.ndarray, names: Sequence[str]) -> tuple[list[int], list[str]]:
    """Columns that vary (their indices) and the names of those that do not.

    A column is constant when its range is within 1e-12 of its magnitude (rounding noise
    of a normalisation), or it has fewer than two non-missing values.
    """
    keep: list[int] = []
    dropped: list[str] = []
    for j, name in enumerate(names):
        col = values[:, j]
        col = col[np.isfinite(col)]
        if col.size >= 2 and np.ptp(col) > 1e-12 * max(1.0, float(np.abs(col).max())):
            keep.append(j)
        else:
            dropped.append(name)
    return keep, dropped


def feature_names(variables: Sequence[str], *, age: bool) -> tuple[str, ...]:
    """Names of the window features, in the column order of :func:`window_features`."""
    names = [f"{v}{suffix}" for v in variables for suffix in ("", ":mean", ":slope", ":std")]
    return (*names, "age") if age else tuple(names)


def window_features(
    values: np.ndarray, time: np.ndarray, row_start: np.ndarray, window: int, *, age: bool
) -> np.ndarray:
    """Window features of every row of grouped histories.

    Parameters
    ----------
    values
        ``(n, p)`` sensor values, rows grouped by unit and in time order.
    time
        ``(n,)`` time of each row.
    row_start
        ``(n,)`` position of the first row of each row's unit.
    window
        Rows in the window (the current one included).
    age
        Append the time since the unit's first row.

    Returns
    -------
    ndarray
        ``(n, 4 p [+ 1])``: for each sensor its current value, window mean, least-squares
        slope against time (0 with one row in the window) and standard deviation
        (population, 0 with one row); NaN values are left out of the window statistics.
    """
    n, p = values.shape
    out = np.empty((n, 4 * p + (1 if age else 0)))
    offsets = np.arange(-(window - 1), 1)
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        rows = np.arange(lo, hi)
        idx = rows[:, None] + offsets[None, :]
        inside = idx >= row_start[lo:hi, None]
        idx = np.where(inside, idx, rows[:, None])
        t = time[idx]
        for j in range(p):
            x = values[idx, j]
            m = inside & np.isfinite(x)
            xz = np.where(m, x, 0.0)
            cnt = m.sum(axis=1)
            safe = np.maximum(cnt, 1)
            mean = xz.sum(axis=1) / safe
            dx = np.where(m, x - mean[:, None], 0.0)
            tm = np.where(m, t, 0.0).sum(axis=1) / safe
            dt = np.where(m, t - tm[:, None], 0.0)
            stt = (dt * dt).sum(axis=1)
            slope = np.divide((dt * dx).sum(axis=1), stt, out=np.zeros(hi - lo), where=stt > 0)
            std = np.sqrt((dx * dx).sum(axis=1) / safe)
            none = cnt == 0
            out[lo:hi, 4 * j] = values[lo:hi, j]
            out[lo:hi, 4 * j + 1] = np.where(none, np.nan, mean)
            out[lo:hi, 4 * j + 2] = np.where(none, np.nan, slope)
            out[lo:hi, 4 * j + 3] = np.where(none, np.nan, std)
        if age:
            out[lo:hi, -1] = time[lo:hi] - time[row_start[lo:hi]]
    return out
