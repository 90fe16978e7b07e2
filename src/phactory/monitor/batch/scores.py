"""What scoring a batch gives: per row statistics and limits, and per batch verdicts.

Returned by :meth:`phactory.monitor.batch.BatchModel.score`; the charts of batch
evolution monitoring (a batch's scores, T2 and SPE over the limits of good batches at the
same progress) and the CLI's tables are drawn from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BatchScores"]


@dataclass(frozen=True, eq=False)
class BatchScores:
    """A batch scored row by row (``k`` rows; all of a complete batch, or so far).

    Attributes
    ----------
    batch
        Batch id.
    progress
        ``(k,)`` progress (maturity) of each row in [0, 1].
    time
        ``(k,)`` hours since the batch start [h].
    scores, score_mean, score_lower, score_upper
        ``(k, A)`` chart scores of each row and the mean and limits of good batches at
        its progress (mean -/+ ``z_(1 - far/2)`` standard deviations).
    t2, t2_limit, spe, spe_limit
        ``(k,)`` the statistics and their limits at each row's progress.
    alarm
        ``(k,)`` T2 or SPE over its limit (after the persistence rule).
    contributions
        ``(k, p)`` per variable, to the statistic(s) over their limit (to the larger one
        over its limit on rows without alarm), each over its limit.
    complete
        Whether the batch was scored as complete.
    quality
        Predicted final quality by name, if the model has a quality model.
    variables
        Names of the ``p`` variables.
    batch_t2, batch_t2_limit, batch_spe, batch_spe_limit
        Batch-level T2 and SPE of a complete batch and their limits (None if running).
    batch_contributions
        ``(p,)`` each variable's share of the batch-level SPE over its limit.
    """

    batch: str
    progress: np.ndarray
    time: np.ndarray
    scores: np.ndarray
    score_mean: np.ndarray
    score_lower: np.ndarray
    score_upper: np.ndarray
    t2: np.ndarray
    t2_limit: np.ndarray
    spe: np.ndarray
    spe_limit: np.ndarray
    alarm: np.ndarray
    contributions: np.ndarray
    complete: bool
    quality: dict[str, float] | None
    variables: tuple[str, ...] = ()
    batch_t2: float | None = None
    batch_t2_limit: float | None = None
    batch_spe: float | None = None
    batch_spe_limit: float | None = None
    batch_contributions: np.ndarray | None = None

    def top(self, row: int, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` variables with the largest contributions at ``row``."""
        c = self.contributions[row]
        order = np.argsort(-c, kind="stable")[:k]
        return [(self.variables[int(j)], float(c[j])) for j in order]

    @property
    def first_alarm(self) -> float | None:
        """Hours since the start of the first alarm [h], or None."""
        hits = np.flatnonzero(self.alarm)
        return float(self.time[hits[0]]) if hits.size else None

    @property
    def batch_alarm(self) -> bool | None:
        """A complete batch's batch-level T2 or SPE over its limit (None if running)."""
        if self.batch_t2 is None or self.batch_spe is None:
            return None
        assert self.batch_t2_limit is not None and self.batch_spe_limit is not None
        return self.batch_t2 > self.batch_t2_limit or self.batch_spe > self.batch_spe_limit
