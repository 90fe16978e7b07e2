"""Exponentially weighted smoothing of the monitoring statistics (EWMA).

A fault that persists but is small moves the average of T2 or SPE long before single
samples cross a limit. The EWMA ``S_t = lambda x_t + (1 - lambda) S_{t-1}`` averages
over roughly ``(2 - lambda) / lambda`` samples: it detects small persistent changes
(a bias, a noisier sensor, a change of dynamics) that a per-sample limit misses, at the
cost of a delay of a few samples for large ones (Lowry et al. [1]_; Montgomery [2]_
recommends ``lambda`` in [0.05, 0.25]). Smoothing works best on statistics of nearly
white rows (the innovations, :mod:`.dynamic`): there every sample brings new evidence,
where the T2 of slowly moving raw data is already autocorrelated and averages little.

The filter starts at the training mean of the statistic, skips rows without statistics
(missing values, the first rows of a dynamic model) and carries its state over them.
Contributions are smoothed by the same filter, so they still sum to the smoothed
statistic. The nominal limit of a smoothed statistic is Box's ``g chi2(h)`` with ``g``
and ``h`` matched to the mean and variance of the smoothed training statistic (the
moment matching of Nomikos & MacGregor [3]_), which accounts for the autocorrelation
the smoothing brings; calibration on validation data then sets the false-alarm rate.

References
----------
.. [1] C. A. Lowry, W. H. Woodall, C. W. Champ, S. E. Rigdon, "A multivariate
   exponentially weighted moving average control chart", Technometrics 34 (1992) 46-53.
.. [2] D. C. Montgomery, Introduction to Statistical Quality Control, 7th ed., Wiley
   (2013), sec. 9.4.
.. [3] P. Nomikos, J. F. MacGregor, "Multivariate SPC charts for monitoring batch
   processes", Technometrics 37 (1995) 41-59.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ewma"]


def ewma(values: np.ndarray, weight: float, start: np.ndarray | float) -> np.ndarray:
    """EWMA along rows of ``values`` (``(n,)`` or ``(n, k)``), starting from ``start``.

    Rows with a NaN (in any column) stay NaN and do not move the filter.
    """
    from scipy.signal import lfilter

    x = np.asarray(values, dtype=float)
    out = np.full_like(x, np.nan)
    valid = np.isfinite(x) if x.ndim == 1 else np.isfinite(x).all(axis=1)
    if not valid.any():
        return out
    initial = (1.0 - weight) * np.broadcast_to(np.asarray(start, dtype=float), x.shape[1:])
    zi = initial[np.newaxis, ...]
    smoothed, _ = lfilter([weight], [1.0, weight - 1.0], x[valid], axis=0, zi=zi)
    out[valid] = smoothed
    return out
