"""Control limits of the Hotelling T2 and SPE (Q) statistics, nominal and calibrated.

Nominal limits (the F limit of T2, Box's and Jackson-Mudholkar's SPE limits) are in
:mod:`phactory.monitor.limits`, shared by every monitoring family.

Real process data are autocorrelated and not quite normal, so the nominal limits rarely
give the false-alarm rate they promise. :func:`calibrate` therefore sets the limits on
normal validation data, to the empirical false-alarm rate the user chose: both
statistics are divided by their nominal limits, the alarm raised when either ratio
exceeds a common factor ``s`` (after the persistence rule), and ``s`` chosen as the
smallest value for which the rate of alarmed rows on the validation data is at most the
target. Both limits are then ``s`` times their nominal value: the OR-combined alarm hits
the target on the validation data, with the split between T2 and SPE that the theory
gives.

References
----------
.. [1] P. Nomikos, J. F. MacGregor, "Multivariate SPC charts for monitoring batch
   processes", Technometrics 37 (1995) 41-59 (the g chi2(h) SPE limit in practice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.mspc.rules import k_of_n

__all__ = ["Calibration", "calibrate", "false_alarm_rate"]


def false_alarm_rate(alarm: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Share of the ``valid`` rows (default: all) with an alarm [-]."""
    a = np.asarray(alarm, dtype=bool)
    v = np.ones_like(a) if valid is None else np.asarray(valid, dtype=bool)
    n = int(v.sum())
    return float(a[v].sum() / n) if n else float("nan")


@dataclass(frozen=True)
class Calibration:
    """Limits set on validation data, and the false-alarm rates measured there.

    Attributes
    ----------
    t2_limit, spe_limit
        The calibrated limits (``factor`` times the nominal ones).
    factor
        The common factor ``s`` applied to both nominal limits [-].
    far
        Alarm rate on the validation rows with the calibrated limits [-] (at most the
        target; lower only by the granularity of ``1/rows`` and ties).
    far_nominal
        Alarm rate on the validation rows with the nominal limits [-]: how far the
        theory is from these data.
    rows
        Validation rows used (rows with statistics).
    """

    t2_limit: float
    spe_limit: float
    factor: float
    far: float
    far_nominal: float
    rows: int


def calibrate(
    t2: np.ndarray,
    spe: np.ndarray,
    t2_nominal: float,
    spe_nominal: float,
    target_far: float,
    persistence: tuple[int, int] = (1, 1),
) -> Calibration:
    """Scale both nominal limits so that the alarm rate on these rows is ``target_far``.

    Parameters
    ----------
    t2, spe
        The statistics of normal validation rows, in time order; NaN rows (no
        statistics) never alarm and are not counted.
    t2_nominal, spe_nominal
        The nominal limits.
    target_far
        Wanted share of alarmed rows [-].
    persistence
        ``(k, n)``: the alarm rule whose rate is calibrated (:func:`~.rules.k_of_n`).

    The factor is found by bisection over the sorted candidate values, which is exact
    because the alarm of the ``k``-of-``n`` rule can only turn off when the limit rises.
    """
    t2 = np.asarray(t2, dtype=float)
    spe = np.asarray(spe, dtype=float)
    valid = np.isfinite(t2) & np.isfinite(spe)
    rows = int(valid.sum())
    if rows * target_far < 1.0:
        raise InvalidError(
            f"the validation data have {rows} usable rows; calibrating a false-alarm rate "
            f"of {target_far:g} needs at least {int(np.ceil(1.0 / target_far))}"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(t2 / t2_nominal, _safe_ratio(spe, spe_nominal))
    ratio = np.where(valid, ratio, -np.inf)
    k, n = persistence

    def rate(factor: float) -> float:
        return false_alarm_rate(k_of_n(ratio > factor, k, n), valid)

    candidates = np.unique(ratio[valid])
    lo, hi = 0, len(candidates) - 1  # the largest candidate never alarms: rate 0
    while lo < hi:
        mid = (lo + hi) // 2
        if rate(float(candidates[mid])) <= target_far:
            hi = mid
        else:
            lo = mid + 1
    factor = float(candidates[lo])
    return Calibration(
        t2_limit=factor * t2_nominal,
        spe_limit=factor * spe_nominal,
        factor=factor,
        far=rate(factor),
        far_nominal=rate(1.0),
        rows=rows,
    )


def _safe_ratio(spe: np.ndarray, limit: float) -> np.ndarray:
    # A zero SPE limit (no residual space) makes SPE not take part in the alarm.
    if limit <= 0.0:
        return np.zeros_like(spe)
    return spe / limit
