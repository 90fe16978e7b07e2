"""Prediction intervals calibrated on whole held-out units (split conformal, grouped).

Conformalized quantile regression (CQR) [1]_: two quantile regressors, fitted on the
*proper training* units, give a band ``[q_lo(x), q_hi(x)]`` that adapts to how
uncertain each prediction is; on the *calibration* units the conformity score of a row is
``E = max(q_lo(x) - y, y - q_hi(x))`` (how far outside the band the truth fell, negative
inside), and the interval of a new row is ``[q_lo(x) - Q, q_hi(x) + Q]`` with ``Q`` an
upper quantile of the scores. A constant band (``q_lo = q_hi``, a point model) gives
plain split conformal with absolute residuals.

The rows of one unit are not exchangeable (they share a machine and a fate), but whole
units are. So the split is by unit, never by row, and the quantile of the scores pools
the units' empirical distributions with equal weight per unit (each row weighs
``1 / rows of its unit``), at level ``(1 - alpha)(1 + 1/m)`` with ``m`` calibration
units: the CDF-pooling method for two-layer hierarchical data of Dunn, Wasserman and
Ramdas [2]_. It targets a new unit observed at a random row of its history; where the
level exceeds 1 (too few calibration units) the interval is unbounded. Coverage on
held-out units is measured by the tests and ``benchmarks/monitoring_rul.py``.

Coverage averaged over all rows of a unit's life says little about the rows that
matter, near failure. So the margin ``Q`` is calibrated separately in bands of the point
prediction (Mondrian conformal prediction [3]_; four bands at the quartiles of the
calibration rows' predictions): a 90% interval then covers about 90% of the true RULs
whatever the predicted RUL, wherever the test units were cut. Every unit passes through
every band on its way to failure, so each band still has (nearly) all calibration units.

References
----------
.. [1] Y. Romano, E. Patterson, E. J. Candès, "Conformalized quantile regression",
   NeurIPS 2019.
.. [2] R. Dunn, L. Wasserman, A. Ramdas, "Distribution-free prediction sets for two-layer
   hierarchical models", J. Am. Stat. Assoc. 118 (544), 2023, 2491-2502.
.. [3] V. Vovk, "Conditional validity of inductive conformal predictors", Machine
   Learning 92 (2-3), 2013, 349-376.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["BandMargins", "band_margins", "conformity", "grouped_split", "pooled_quantile"]

#: Bands of the point prediction with a margin of their own.
BANDS = 4


def grouped_split(n_units: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Units for proper training and for calibration (sorted index arrays).

    At least one unit goes to each side; the draw is seeded.
    """
    if n_units < 2:
        raise ValueError("a grouped split needs at least two units")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_units)
    m = min(n_units - 1, max(1, round(fraction * n_units)))
    return np.sort(perm[m:]), np.sort(perm[:m])


def conformity(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """CQR conformity scores ``max(lower - y, y - upper)`` [units of y]."""
    out: np.ndarray = np.maximum(lower - y, y - upper)
    return out


def pooled_quantile(scores: np.ndarray, groups: np.ndarray, coverage: float) -> float:
    """The conformal quantile of ``scores`` with every group (unit) weighing the same.

    Parameters
    ----------
    scores
        ``(n,)`` conformity scores of the calibration rows.
    groups
        ``(n,)`` unit of each row (any integer labels).
    coverage
        Nominal coverage ``1 - alpha`` of the intervals.

    Returns
    -------
    float
        The smallest score ``s`` with pooled weight of scores ``<= s`` at least
        ``(1 - alpha)(1 + 1/m)``; ``inf`` if that level exceeds 1.
    """
    labels, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    m = labels.size
    level = coverage * (1.0 + 1.0 / m)
    if level > 1.0 or m == 0:
        return math.inf
    weights = 1.0 / (m * counts[inverse])
    order = np.argsort(scores, kind="stable")
    cum = np.cumsum(weights[order])
    # A tolerance of a few ulps: weights that should sum to exactly the level do not.
    k = int(np.searchsorted(cum, level - 1e-12, side="left"))
    return float(scores[order[min(k, order.size - 1)]])


@dataclass(frozen=True)
class BandMargins:
    """Conformal margins by band of the point prediction.

    Attributes
    ----------
    edges
        ``(b - 1,)`` increasing inner edges; a prediction ``p`` is in band
        ``searchsorted(edges, p, side="right")``.
    q
        ``(b,)`` margin of each band (``inf`` where too few units calibrate it).
    """

    edges: np.ndarray
    q: np.ndarray

    def margin(self, point: np.ndarray) -> np.ndarray:
        """The margin of each prediction."""
        out: np.ndarray = self.q[np.searchsorted(self.edges, point, side="right")]
        return out


def band_margins(
    scores: np.ndarray,
    groups: np.ndarray,
    point: np.ndarray,
    coverage: float,
    bands: int = BANDS,
) -> BandMargins:
    """Margins by band (quantiles of ``point``) from calibration scores.

    Parameters
    ----------
    scores, groups
        Conformity score and unit of each calibration row.
    point
        The point prediction of each calibration row (defines the bands).
    coverage
        Nominal coverage.
    bands
        Number of bands (fewer when the predictions take fewer distinct values).
    """
    edges = np.unique(np.quantile(point, np.arange(1, bands) / bands))
    edges = edges[(edges > point.min()) & (edges <= point.max())]
    band = np.searchsorted(edges, point, side="right")
    q = np.array(
        [
            pooled_quantile(scores[band == b], groups[band == b], coverage)
            for b in range(edges.size + 1)
        ]
    )
    return BandMargins(edges=edges.astype(float), q=q.astype(float))
