"""The result of scoring rows with an MSPC model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MspcScores"]


@dataclass(frozen=True)
class MspcScores:
    """Statistics of scored rows (``n`` rows, ``p`` variables).

    Attributes
    ----------
    variables
        The model's variables (columns of ``contributions``).
    t2, spe
        Hotelling T2 and SPE of each row [-] (smoothed if the model smooths); NaN for a
        row without statistics.
    t2_limit, spe_limit
        The limits in force [-].
    t2_exceeds, spe_exceeds
        Each statistic over its limit (raw, before the persistence rule).
    alarm
        The alarm after the persistence rule.
    contributions
        ``(n, p)``: each variable's share of the statistic(s) over their limits, in units
        of those limits (:mod:`.model` says which statistic on which row).
    """

    variables: tuple[str, ...]
    t2: np.ndarray
    spe: np.ndarray
    t2_limit: float
    spe_limit: float
    t2_exceeds: np.ndarray
    spe_exceeds: np.ndarray
    alarm: np.ndarray
    contributions: np.ndarray

    def top(self, row: int, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` largest contributions of ``row`` (none for a row without statistics)."""
        c = self.contributions[row]
        if not np.isfinite(c).all():
            return []
        order = np.argsort(-c, kind="stable")[:k]
        return [(self.variables[int(j)], float(c[j])) for j in order]
