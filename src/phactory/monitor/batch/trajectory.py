"""Batch trajectories: the rows of one batch in time order, read from a monitoring CSV.

A batch file is the table of :mod:`phactory.monitor.table` with two named columns: the
batch id (``--batch-col``) and the time (``--time-col``). Rows are grouped by batch id in
order of first appearance in the file (a batch's rows need not be contiguous) and sorted
by time within each batch.

Time is either numeric in one unit (hours by default; ``time_unit`` converts minutes,
seconds or days) or ISO 8601 datetimes (a datetime without an offset is UTC). Either way a
:class:`Batch` carries **hours since its first row** [h]: monitoring compares batches by
their elapsed time (or their maturity), never by the wall clock.

Refused, naming ``FILE:LINE``: an empty batch id or time, a time that is neither a number
nor an ISO datetime (or a mix of both in one file), the same time twice in one batch, a
batch with fewer than :data:`MIN_ROWS` rows. Missing values of the variables are allowed
here; each method says what it does with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.table import Table, group_rows, time_hours

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MIN_ROWS",
    "Batch",
    "batches_from_table",
    "quality_from_rows",
    "quality_from_table",
]

#: Fewest rows of one batch: with fewer there is no trajectory to align.
MIN_ROWS = 3


@dataclass(frozen=True, eq=False)
class Batch:
    """The trajectory of one batch.

    Attributes
    ----------
    id
        Batch id, as in the file.
    time
        ``(m,)`` hours since the batch's first row [h], increasing.
    values
        ``(m, p)`` the variables at those times; NaN where a value is missing.
    variables
        Names of the ``p`` columns of ``values``.
    source
        The file the batch was read from ("" if built in code), for messages.
    lines
        ``(m,)`` file line of each row (0 if built in code), for messages.
    """

    id: str
    time: np.ndarray
    values: np.ndarray
    variables: tuple[str, ...]
    source: str = ""
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def __post_init__(self) -> None:
        t = np.asarray(self.time, dtype=float)
        v = np.asarray(self.values, dtype=float)
        if t.ndim != 1 or v.ndim != 2 or v.shape != (t.size, len(self.variables)):
            raise ValueError(
                f"batch {self.id!r}: time (m,) and values (m, {len(self.variables)}) "
                f"do not match: {t.shape} and {v.shape}"
            )
        object.__setattr__(self, "time", t)
        object.__setattr__(self, "values", v)
        lines = np.asarray(self.lines, dtype=int)
        object.__setattr__(self, "lines", lines if lines.size == t.size else np.zeros_like(t, int))

    @property
    def n_rows(self) -> int:
        return int(self.time.size)

    @property
    def duration(self) -> float:
        """Hours from the first to the last row [h]."""
        return float(self.time[-1] - self.time[0])

    def where(self, row: int | None = None, column: str | None = None) -> str:
        """``FILE:LINE column 'c'`` of a row (or the batch's first row), for messages."""
        r = 0 if row is None else row
        line = int(self.lines[r]) if self.lines.size else 0
        at = f"{self.source or 'batch'}:{line}" if line else (self.source or "batch")
        at = f"{at} (batch {self.id!r})"
        return f"{at} column {column!r}" if column is not None else at

    def head(self, n: int) -> Batch:
        """The first ``n`` rows: the batch as it was while running."""
        return Batch(
            self.id,
            self.time[:n],
            self.values[:n],
            self.variables,
            self.source,
            self.lines[:n],
        )


def batches_from_table(
    table: Table,
    batch_col: str,
    time_col: str,
    *,
    time_unit: str = "h",
    min_rows: int = MIN_ROWS,
) -> list[Batch]:
    """Split a table into batches, each sorted by time.

    Parameters
    ----------
    table
        Read with ``named=(batch_col, time_col)``.
    batch_col, time_col
        The batch id column and the time column.
    time_unit
        Unit of a numeric time column: ``"h"``, ``"min"``, ``"s"`` or ``"d"``
        (ignored for ISO datetimes).
    min_rows
        Fewest rows a batch may have.

    Returns
    -------
    list of Batch
        In order of each batch's first row in the file; times in hours since the batch's
        first row [h].

    Raises
    ------
    InvalidError
        Naming ``FILE:LINE``: an empty batch id, a bad or repeated time within a batch, a
        batch with fewer than ``min_rows`` rows.
    """
    ids, order, starts = group_rows(table, batch_col, what="batch")
    hours, _ = time_hours(table, time_col, time_unit, relative=True)
    counts = np.diff(starts)
    group = np.repeat(np.arange(len(ids)), counts)
    # Within each batch (groups keep their order), rows by time; ties keep file order.
    order = order[np.lexsort((hours[order], group))]
    t = hours[order]
    short = np.flatnonzero(counts < min_rows)
    twice = np.flatnonzero((group[1:] == group[:-1]) & (np.diff(t) == 0.0))
    # The first batch (in file order) with a problem is named; too few rows first.
    if short.size and (not twice.size or short[0] <= group[twice[0]]):
        g = int(short[0])
        raise InvalidError(
            f"{table.where(int(order[starts[g]]), batch_col)}: batch {ids[g]!r} has "
            f"{int(counts[g])} row(s); a trajectory needs at least {min_rows}"
        )
    if twice.size:
        first, second = sorted((int(order[twice[0]]), int(order[twice[0] + 1])))
        raise InvalidError(
            f"{table.where(second, time_col)}: batch {ids[group[twice[0]]]!r} has the time "
            f"{table.extra_values(time_col).iloc[second]!s} twice (also on line "
            f"{table.line(first)})"
        )
    lines = order + table.line(0)
    batches: list[Batch] = []
    for g, bid in enumerate(ids):
        rows = order[starts[g] : starts[g + 1]]
        batches.append(
            Batch(
                id=bid,
                time=t[starts[g] : starts[g + 1]] - t[starts[g]],
                values=table.values[rows],
                variables=table.variables,
                source=table.path,
                lines=lines[starts[g] : starts[g + 1]],
            )
        )
    return batches


def _quality_values(
    raw: pd.Series, where: Callable[[int], str], rows: np.ndarray, name: str
) -> float:
    """One batch's final quality from its rows of a quality column (one value, repeated)."""
    import pandas as pd

    text = raw.iloc[rows].astype(str).str.strip()
    filled = text[text != ""]
    if filled.empty:
        raise InvalidError(f"{where(int(rows[0]))}: no final quality {name!r} for this batch")
    numbers = pd.to_numeric(filled, errors="coerce")
    bad = np.flatnonzero(numbers.isna().to_numpy())
    if bad.size:
        r = int(rows[np.flatnonzero(text != "")[bad[0]]])
        raise InvalidError(f"{where(r)}: final quality {name!r} is not a number")
    values = numbers.to_numpy(dtype=float)
    differ = np.flatnonzero(values != values[0])
    if differ.size:
        r = int(rows[np.flatnonzero(text != "")[differ[0]]])
        raise InvalidError(
            f"{where(r)}: final quality {name!r} differs within the batch ({values[0]:g} on "
            f"its first row, {values[differ[0]]:g} here); it is one value per batch"
        )
    if not np.isfinite(values[0]):
        raise InvalidError(f"{where(int(rows[0]))}: final quality {name!r} is not finite")
    return float(values[0])


def quality_from_table(
    table: Table, batch_col: str, batches: Sequence[Batch], names: Sequence[str]
) -> np.ndarray:
    """Final quality ``(B, r)`` of ``batches`` from quality columns of the batch file.

    Each quality column (read as a named column) holds one value per batch, repeated on
    its rows or given on some of them and empty on the others.
    """
    ids = table.extra_values(batch_col).astype(str).str.strip().to_numpy()
    rows = [np.flatnonzero(ids == b.id) for b in batches]
    out = np.empty((len(batches), len(names)))
    for j, name in enumerate(names):
        raw = table.extra_values(name)

        def where(row: int, column: str = name) -> str:
            return table.where(row, column)

        for i, r in enumerate(rows):
            out[i, j] = _quality_values(raw, where, r, name)
    return out


def quality_from_rows(
    table: Table, batch_col: str, batches: Sequence[Batch], names: Sequence[str] = ()
) -> tuple[tuple[str, ...], np.ndarray]:
    """Final quality of ``batches`` from a table of one row per batch (``--quality-csv``).

    The table has the batch column ``batch_col`` (read as a named column) and the quality
    columns: ``names``, or every numeric column when none are named. Returns the names and
    ``(B, r)`` values.
    """
    cols = tuple(names) or table.variables
    values = table.columns(cols, role="quality")
    ids = table.extra_values(batch_col).astype(str).str.strip().to_numpy()
    first: dict[str, int] = {}
    for r, bid in enumerate(ids):
        if bid in first:
            raise InvalidError(
                f"{table.where(r, batch_col)}: batch {bid!r} again (first on line "
                f"{table.line(first[bid])}); one row per batch"
            )
        first[str(bid)] = r
    out = np.empty((len(batches), len(cols)))
    for i, b in enumerate(batches):
        if b.id not in first:
            raise InvalidError(f"{table.path}: no row for batch {b.id!r} (of {b.where()})")
        row = first[b.id]
        bad = np.flatnonzero(~np.isfinite(values[row]))
        if bad.size:
            raise InvalidError(f"{table.where(row, cols[int(bad[0])])}: quality is missing")
        out[i] = values[row]
    return cols, out
