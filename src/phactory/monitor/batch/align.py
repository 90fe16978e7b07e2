"""Alignment of batch trajectories to a common maturity axis from 0 to 1.

Batches of one process never last exactly as long, so the values of two batches at the
same clock time are not at the same stage of the process. Every batch is therefore given
a **progress** (maturity) in [0, 1] for each of its rows, and its trajectory is resampled
on a grid of ``n_points`` equally spaced progress values (linear interpolation per
variable; rows of equal progress are averaged first). Three ways to get the progress:

``time`` (linear time normalisation)
    A complete batch: ``t / T_b``, its own duration ``T_b`` (the first and last rows are
    0 and 1, so every training batch covers the whole grid). A running batch, whose
    duration is not known yet: ``t / T_ref``, the median duration of the training
    batches, capped at 1 (rows after ``T_ref`` are compared with the end of the
    reference). This is SIMCA's linear time warping and the common "indicator variable is
    time" of Nomikos & MacGregor [1]_.
``maturity:COL`` (an indicator variable)
    A variable that grows monotonically with the progress of the process: cumulative
    feed, conversion, integral of viable cells, cumulative oxygen uptake [1]_, [2]_. Noise
    that makes it dip is removed by its cumulative maximum. Its increase since the
    batch's first row, divided by the batch's own total increase (complete) or by the
    median total increase of the training batches (running, capped at 1). The maturity
    variable is the alignment axis, so it is not one of the model's variables.
``dtw`` (dynamic time warping)
    :mod:`~phactory.monitor.batch.warping`: each batch's rows are matched to a
    reference trajectory of ``n_points`` by DTW on autoscaled, weighted variables
    (Kassidas, MacGregor & Taylor [3]_); open-ended for a running batch.

A batch counts as complete when its progress measured as if it were running reaches
:attr:`Alignment.complete_at`: the least end that a training batch reached that way
minus twice the standard deviation of those ends, so that a new batch a little shorter
than every training batch still counts as complete. For ``time`` this is a guess (a
running batch past it is taken as complete: elapsed time alone cannot tell); for
``maturity`` and ``dtw``, whose end points vary little, it is sharp.
``BatchModel.score`` lets the caller say which it is instead (``--running`` and
``--complete`` in the CLI).

References
----------
.. [1] P. Nomikos, J. F. MacGregor, "Monitoring batch processes using multiway principal
   component analysis", AIChE J. 40 (1994) 1361-1375.
.. [2] S. Wold, N. Kettaneh, H. Friden, A. Holmberg, "Modelling and diagnostics of batch
   processes and analogous kinetic experiments", Chemometr. Intell. Lab. Syst. 44 (1998)
   331-340.
.. [3] A. Kassidas, J. F. MacGregor, P. A. Taylor, "Synchronization of batch trajectories
   using dynamic time warping", AIChE J. 44 (1998) 864-875.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.batch.limits import interpolate
from phactory.monitor.modelfile import StateReader

__all__ = [
    "Aligned",
    "Alignment",
    "MaturityAlignment",
    "TimeAlignment",
    "alignment_from_state",
    "complete_at",
    "fill_forward",
    "make_alignment",
    "resample",
]


@dataclass(frozen=True, eq=False)
class Aligned:
    """Where a batch is, row by row, and its trajectory on the grid.

    Attributes
    ----------
    progress
        ``(m,)`` progress of each row in [0, 1], non-decreasing.
    trajectory
        ``(k, p)`` the batch on the first ``k`` grid points (all ``n_points`` for a
        complete batch; those up to its progress for a running one).
    """

    progress: np.ndarray
    trajectory: np.ndarray


def fill_forward(values: np.ndarray, *, backfill: bool) -> np.ndarray:
    """Missing values (NaN) replaced by the last value before them, per column.

    Parameters
    ----------
    values
        ``(m, p)`` rows in time order.
    backfill
        Also fill NaN before a column's first value with that first value (training);
        otherwise they stay NaN (a running batch: nothing is known yet).
    """
    out = np.array(values, dtype=float, copy=True)
    m = out.shape[0]
    idx = np.where(np.isnan(out), 0, np.arange(m)[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = np.take_along_axis(out, idx, axis=0)
    if backfill:
        for j in range(out.shape[1]):
            col = out[:, j]
            ok = np.flatnonzero(~np.isnan(col))
            if ok.size and ok[0] > 0:
                col[: ok[0]] = col[ok[0]]
    return out


def resample(progress: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``values`` at the ``grid`` progress values, by linear interpolation per column.

    Rows of equal progress (a maturity variable that stood still) are averaged first, so
    that the interpolation sees a strictly increasing axis. Grid points outside the rows'
    progress take the first or last value.
    """
    u, inv, counts = np.unique(progress, return_inverse=True, return_counts=True)
    v = values
    if u.size < progress.size:
        v = np.zeros((u.size, values.shape[1]))
        np.add.at(v, inv, values)
        v /= counts[:, None]
    return interpolate(u, v, grid)


def _on_grid(progress: np.ndarray, values: np.ndarray, grid: np.ndarray) -> Aligned:
    # A running batch is on the grid up to its progress (a small tolerance for round-off).
    upto = grid[grid <= float(progress[-1]) + 1e-9]
    return Aligned(progress, resample(progress, values, upto))


def complete_at(ends: np.ndarray) -> float:
    """:attr:`Alignment.complete_at` from the training batches' ends measured as if they
    were running: the least less twice their standard deviation (module docstring)."""
    return float(ends.min() - 2.0 * ends.std())


class Alignment(Protocol):
    """How rows of a batch get their progress (see the module docstring)."""

    method: str
    complete_at: float

    def fit(
        self,
        times: Sequence[np.ndarray],
        values: Sequence[np.ndarray],
        maturity: Sequence[np.ndarray | None],
        grid: np.ndarray,
    ) -> None:
        """Learn the reference from training batches: times [h], values (m, p) filled,
        maturity (m,) or None each."""
        ...

    def align(
        self,
        time: np.ndarray,
        values: np.ndarray,
        maturity: np.ndarray | None,
        grid: np.ndarray,
        *,
        complete: bool,
    ) -> Aligned:
        """Progress of each row and the trajectory on the grid, complete or running."""
        ...

    def running_end(
        self, time: np.ndarray, values: np.ndarray, maturity: np.ndarray | None, grid: np.ndarray
    ) -> float:
        """Progress of the last row as if the batch were running (may exceed 1)."""
        ...

    def to_state(self) -> dict[str, Any]:
        """The fitted reference as JSON-ready values (with its ``method``)."""
        ...


class TimeAlignment:
    """Progress = elapsed time over the batch's own duration (complete) or the median
    training duration ``reference_h`` (running); see the module docstring."""

    method = "time"

    def __init__(self, reference_h: float = float("nan"), complete_at: float = 1.0) -> None:
        self.reference_h = reference_h
        self.complete_at = complete_at

    def fit(
        self,
        times: Sequence[np.ndarray],
        values: Sequence[np.ndarray],
        maturity: Sequence[np.ndarray | None],
        grid: np.ndarray,
    ) -> None:
        durations = np.array([t[-1] - t[0] for t in times])
        self.reference_h = float(np.median(durations))
        self.complete_at = complete_at(durations / self.reference_h)

    def align(
        self,
        time: np.ndarray,
        values: np.ndarray,
        maturity: np.ndarray | None,
        grid: np.ndarray,
        *,
        complete: bool,
    ) -> Aligned:
        elapsed = time - time[0]
        total = float(elapsed[-1]) if complete else self.reference_h
        return _on_grid(np.minimum(elapsed / total, 1.0), values, grid)

    def running_end(
        self, time: np.ndarray, values: np.ndarray, maturity: np.ndarray | None, grid: np.ndarray
    ) -> float:
        return float((time[-1] - time[0]) / self.reference_h)

    def to_state(self) -> dict[str, Any]:
        return {"method": "time", "reference_h": self.reference_h, "complete_at": self.complete_at}


class MaturityAlignment:
    """Progress = increase of a monotone maturity variable since the first row, over the
    batch's own increase (complete) or the median training increase (running)."""

    def __init__(
        self, column: str, reference: float = float("nan"), complete_at: float = 1.0
    ) -> None:
        self.column = column
        self.method = f"maturity:{column}"
        self.reference = reference
        self.complete_at = complete_at

    @staticmethod
    def increase(maturity: np.ndarray) -> np.ndarray:
        """Cumulative maximum minus the first value: non-decreasing from 0."""
        m = np.asarray(np.maximum.accumulate(maturity), dtype=float)
        inc: np.ndarray = m - m[0]
        return inc

    def fit(
        self,
        times: Sequence[np.ndarray],
        values: Sequence[np.ndarray],
        maturity: Sequence[np.ndarray | None],
        grid: np.ndarray,
    ) -> None:
        totals = np.array([self.increase(_need(m, self.column))[-1] for m in maturity])
        self.reference = float(np.median(totals))
        self.complete_at = complete_at(totals / self.reference)

    def align(
        self,
        time: np.ndarray,
        values: np.ndarray,
        maturity: np.ndarray | None,
        grid: np.ndarray,
        *,
        complete: bool,
    ) -> Aligned:
        inc = self.increase(_need(maturity, self.column))
        total = float(inc[-1]) if complete else self.reference
        p = np.minimum(inc / total, 1.0) if total > 0 else np.zeros_like(inc)
        return _on_grid(p, values, grid)

    def running_end(
        self, time: np.ndarray, values: np.ndarray, maturity: np.ndarray | None, grid: np.ndarray
    ) -> float:
        return float(self.increase(_need(maturity, self.column))[-1] / self.reference)

    def to_state(self) -> dict[str, Any]:
        return {
            "method": "maturity",
            "column": self.column,
            "reference": self.reference,
            "complete_at": self.complete_at,
        }


def _need(maturity: np.ndarray | None, column: str) -> np.ndarray:
    if maturity is None:
        raise InvalidError(f"maturity alignment needs the column {column!r}")
    return maturity


def make_alignment(spec: str) -> Alignment:
    """The alignment named ``time``, ``maturity:COL`` or ``dtw`` (unfitted)."""
    from phactory.monitor.batch.warping import DtwAlignment

    text = spec.strip()
    if text == "time":
        return TimeAlignment()
    if text == "dtw":
        return DtwAlignment()
    if text.startswith("maturity:") and text.partition(":")[2].strip():
        return MaturityAlignment(text.partition(":")[2].strip())
    raise InvalidError(f"unknown alignment {spec!r}: use 'time', 'maturity:COLUMN' or 'dtw'")


def alignment_from_state(r: StateReader) -> Alignment:
    """Rebuild a fitted alignment from its state (see each class's ``to_state``)."""
    from phactory.monitor.batch.warping import DtwAlignment

    method = r.text("method")
    if method == "time":
        return TimeAlignment(r.number("reference_h"), r.number("complete_at"))
    if method == "maturity":
        return MaturityAlignment(r.text("column"), r.number("reference"), r.number("complete_at"))
    if method == "dtw":
        return DtwAlignment.from_state(r)
    raise InvalidError(f"{r.at('method')} is {method!r}, not time, maturity or dtw")
