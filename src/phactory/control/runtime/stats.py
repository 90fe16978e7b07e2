"""Scan statistics of a task: scan time and start jitter, summarised as
:class:`phactory.control.view.ScanStats`.

Scan time is the real execution time of a scan (input image, programs, RETAIN commit,
output image) measured with :func:`time.perf_counter_ns`, under either clock. Jitter is
``|actual start - nominal start|`` on the task's clock (0 in simulated time). The jitter
percentile is computed over the most recent :data:`JITTER_WINDOW` scans, so a controller
that runs for weeks keeps a bounded memory and reports its current behaviour; the scan
time extremes and mean cover every scan since the (re)start.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING

from phactory.control.pou import NS_PER_S

if TYPE_CHECKING:
    from phactory.control.view import ScanStats

__all__ = ["JITTER_WINDOW", "ScanStatistics"]

#: Scans over which the jitter percentile is computed.
JITTER_WINDOW = 10_000


class ScanStatistics:
    """Accumulates scan times and jitter of one task."""

    __slots__ = ("_jitter", "_next", "max_ns", "min_ns", "overruns", "scans", "total_ns")

    def __init__(self) -> None:
        self.scans = 0
        self.overruns = 0
        self.min_ns = 0
        self.max_ns = 0
        self.total_ns = 0
        self._jitter = array("q")
        self._next = 0

    def record(self, duration_ns: int, jitter_ns: int) -> None:
        """One scan that took ``duration_ns`` [ns] and started ``jitter_ns`` [ns] late."""
        if self.scans == 0 or duration_ns < self.min_ns:
            self.min_ns = duration_ns
        if duration_ns > self.max_ns:
            self.max_ns = duration_ns
        self.scans += 1
        self.total_ns += duration_ns
        jitter = abs(jitter_ns)
        if len(self._jitter) < JITTER_WINDOW:
            self._jitter.append(jitter)
        else:
            self._jitter[self._next] = jitter
            self._next = (self._next + 1) % JITTER_WINDOW

    def jitter_percentile_ns(self, q: float = 99.0) -> int:
        """The ``q``-th percentile of the recent jitter [ns] (nearest rank; 0 without scans)."""
        n = len(self._jitter)
        if n == 0:
            return 0
        rank = max(1, math.ceil(q / 100.0 * n))
        return sorted(self._jitter)[rank - 1]

    def summary(self, task: str, unit: str, period_ns: int) -> ScanStats:
        """The statistics as the :class:`ScanStats` the outside sees [s]."""
        # Imported here: phactory.control.view imports the batch package (slow to load),
        # which a controller that never reports statistics does not need.
        from phactory.control.view import ScanStats

        mean = self.total_ns / self.scans if self.scans else 0.0
        return ScanStats(
            task=task,
            unit=unit,
            period_s=period_ns / NS_PER_S,
            scans=self.scans,
            overruns=self.overruns,
            min_s=self.min_ns / NS_PER_S,
            mean_s=mean / NS_PER_S,
            max_s=self.max_ns / NS_PER_S,
            jitter_p99_s=self.jitter_percentile_ns(99.0) / NS_PER_S,
        )
