"""Sensor histories of units: the rows of a table grouped by unit, in time order.

A remaining-useful-life table has one row per unit and time (a cycle count, operating
hours, or ISO 8601 timestamps): ``unit, time, sensor_1, ..., sensor_p``. Units are listed
in the order in which they first appear in the file; a unit's rows need not be
contiguous, but within a unit the time must increase from row to row in file order (a
history written out of order, or a unit id reused for two machines, is refused naming the
two lines, never silently sorted).

Timestamps are converted to hours since 1970-01-01 UTC, so that RUL is then in hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.table import Table, group_rows, time_hours

__all__ = ["Units", "group_units", "unit_key"]


def unit_key(text: str) -> str:
    """A unit id for matching across files: ``"7"``, ``"7.0"`` and ``" 7 "`` are one unit."""
    s = text.strip()
    try:
        f = float(s)
    except ValueError:
        return s
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else s


@dataclass(frozen=True)
class Units:
    """The rows of a table grouped by unit.

    Attributes
    ----------
    ids
        Unit ids (as written in the file), in order of first appearance.
    order
        ``(n,)`` row indices of the table, grouped by unit (units in ``ids`` order) and,
        within a unit, in file order (which is time order).
    starts
        ``(n_units + 1,)`` offsets of each unit's rows in ``order``.
    time
        ``(n,)`` time of each row of the table (in the table's row order); hours since
        the epoch when the file has timestamps.
    time_kind
        ``"number"`` or ``"datetime"``.
    """

    ids: tuple[str, ...]
    order: np.ndarray
    starts: np.ndarray
    time: np.ndarray
    time_kind: str

    @property
    def n_units(self) -> int:
        return len(self.ids)

    def sizes(self) -> np.ndarray:
        """Rows of each unit."""
        return np.diff(self.starts)

    def row_start(self) -> np.ndarray:
        """For each grouped row (``order`` position), the position of its unit's first row."""
        return np.repeat(self.starts[:-1], self.sizes())

    def unit_of_row(self) -> np.ndarray:
        """For each grouped row, the index of its unit in ``ids``."""
        return np.repeat(np.arange(self.n_units), self.sizes())

    def last_rows(self) -> np.ndarray:
        """Grouped positions of each unit's last row."""
        return self.starts[1:] - 1


def group_units(table: Table, unit_col: str, time_col: str, *, min_rows: int = 1) -> Units:
    """Group the rows of ``table`` by unit and check that time increases within each.

    Parameters
    ----------
    table
        A table read with ``named=(unit_col, time_col)``.
    unit_col, time_col
        The unit id column and the time column [cycles, hours, or ISO 8601 timestamps].
    min_rows
        Fewest rows a unit may have (2 for training: a history needs a trend).

    Raises
    ------
    InvalidError
        Naming the file, line and column: an empty unit id, a time that is not a number
        or timestamp, a time not after the previous one of the same unit, a unit with too
        few rows.
    """
    ids, order, starts = group_rows(table, unit_col, what="unit")
    time, kind = time_hours(table, time_col)
    units = Units(ids=ids, order=order, starts=starts, time=time, time_kind=kind)
    unit_of, t = units.unit_of_row(), time[order]
    back = np.flatnonzero((unit_of[1:] == unit_of[:-1]) & (np.diff(t) <= 0))
    if back.size:
        prev, row = int(order[back[0]]), int(order[back[0] + 1])
        raw = table.extra_values(time_col)
        raise InvalidError(
            f"{table.where(row, time_col)}: time {raw.iloc[row]!r} of unit "
            f"{ids[unit_of[back[0] + 1]]!r} is not after {raw.iloc[prev]!r} on line "
            f"{table.line(prev)}; a unit's rows must be in increasing time"
        )
    counts = units.sizes()
    short = np.flatnonzero(counts < min_rows)
    if short.size:
        u = int(short[0])
        row = int(order[starts[u]])
        raise InvalidError(
            f"{table.where(row, unit_col)}: unit {ids[u]!r} has {int(counts[u])} row(s); "
            f"a run-to-failure history needs at least {min_rows}"
        )
    return units
