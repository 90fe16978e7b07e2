"""Confidence intervals over replications.

Replications of a stochastic simulation are independent and identically distributed
observations of each KPI, so the mean of ``n`` replications has the Student-t
confidence interval

    mean ± t(1 - α/2, n - 1) · s / sqrt(n)

with ``s`` the sample standard deviation [1]_ (half-width 0 when ``n == 1``, where no
spread can be estimated). KPIs that are ``nan`` in a replication (undefined there) are
left out of that KPI's sample. Two runs are compared, paired over shared seeds or by
Welch's test, in :mod:`phactory.study.comparison`.

References
----------
.. [1] A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015,
   ch. 9 (fixed-sample-size confidence intervals).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from phactory.kpi.result import SITE_KPIS, UNIT_KPIS, KpiResult

__all__ = ["kpi_frame", "summarise"]

#: KPIs bounded to [0, 1] (ratios); every other KPI is bounded below by 0.
_RATIOS = frozenset(
    {k for k, unit in SITE_KPIS.items() if unit == "1"}
    | {
        k
        for k in UNIT_KPIS
        if k != "effectiveness_uncapped"
        and not k.endswith(("_h", "_kwh", "_kg"))
        and k != "batches_processed"
    }
)


def kpi_frame(results: Sequence[KpiResult]) -> pd.DataFrame:
    """KPIs of several results side by side: rows ``(scope, kpi)``, one column per result."""
    if not results:
        raise ValueError("no results to summarise")
    series = [r.kpi_series() for r in results]
    frame = pd.concat(series, axis=1, keys=range(len(series)), sort=False)
    order = list(dict.fromkeys(k for s in series for k in s.index))
    return frame.reindex(pd.MultiIndex.from_tuples(order, names=["scope", "kpi"]))


def _moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.sum(~np.isnan(values), axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(values, axis=1) / np.maximum(n, 1), np.nan)
        dev = np.where(np.isnan(values), 0.0, values - mean[:, None])
        var = np.where(n > 1, (dev**2).sum(axis=1) / np.maximum(n - 1, 1), 0.0)
    var = np.where(n > 0, var, np.nan)
    return n, mean, var


def summarise(results: Sequence[KpiResult], confidence: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t confidence interval of every site and unit KPI.

    Parameters
    ----------
    results
        One :class:`KpiResult` per replication.
    confidence
        Confidence level of the interval (default 0.95).

    Returns
    -------
    pandas.DataFrame
        Index ``(scope, kpi)`` with ``scope`` ``"site"`` or a unit id; columns
        ``n, mean, std, half_width, ci_low, ci_high``. The interval is truncated to the
        KPI's range: below at 0, above at 1 for ratios.
    """
    frame = kpi_frame(results)
    values = frame.to_numpy(dtype=float)
    n, mean, var = _moments(values)
    std = np.sqrt(var)
    tq = np.where(n > 1, stats.t.ppf(0.5 + confidence / 2.0, np.maximum(n - 1, 1)), 0.0)
    half = np.where(n > 1, tq * std / np.sqrt(np.maximum(n, 1)), 0.0)
    half = np.where(n > 0, half, np.nan)
    # Every KPI here is non-negative and the ratios cannot exceed 1; a t interval
    # around replications piled up at a bound (OEE of 1, no scrap) would cross it.
    kpis = frame.index.get_level_values("kpi")
    ratio = np.array([k in _RATIOS for k in kpis], dtype=bool)
    low = np.maximum(mean - half, 0.0)
    high = np.where(ratio, np.minimum(mean + half, 1.0), mean + half)
    return pd.DataFrame(
        {
            "n": n.astype(int),
            "mean": mean,
            "std": std,
            "half_width": half,
            "ci_low": low,
            "ci_high": high,
        },
        index=frame.index,
    )
