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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.table import Table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Units", "group_units", "table_from_frame", "unit_key"]


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


def _parse_time(table: Table, time_col: str) -> tuple[np.ndarray, str]:
    import pandas as pd

    raw = table.extra_values(time_col).astype(str).str.strip()
    empty = np.flatnonzero(raw.eq("").to_numpy())
    if empty.size:
        raise InvalidError(f"{table.where(int(empty[0]), time_col)}: the time is empty")
    numbers = pd.to_numeric(raw, errors="coerce")
    if not numbers.isna().any():
        t = numbers.to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:
            raise InvalidError(f"{table.where(int(bad[0]), time_col)}: the time is not finite")
        return t, "number"
    stamps = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
    if stamps.isna().any():
        # Say which cell is neither a number nor a timestamp: the first one that is not a number.
        row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        cell = raw.iloc[row][:40]
        raise InvalidError(
            f"{table.where(row, time_col)}: {cell!r} is neither a number nor an ISO 8601 time"
        )
    ns = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return ns / 3.6e12, "datetime"


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
    import pandas as pd

    for col in (unit_col, time_col):
        if col not in table.extra:
            raise InvalidError(f"{table.path}: no column {col!r} (read as a named column)")
    units = table.extra_values(unit_col).astype(str).str.strip()
    empty = np.flatnonzero(units.eq("").to_numpy())
    if empty.size:
        raise InvalidError(f"{table.where(int(empty[0]), unit_col)}: the unit id is empty")
    codes, ids = pd.factorize(units, sort=False)
    codes = np.asarray(codes, dtype=np.int64)
    time, kind = _parse_time(table, time_col)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(ids))
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    t = time[order]
    same_unit = codes[order][1:] == codes[order][:-1]
    back = np.flatnonzero(same_unit & (np.diff(t) <= 0))
    if back.size:
        prev, row = int(order[back[0]]), int(order[back[0] + 1])
        raise InvalidError(
            f"{table.where(row, time_col)}: time {table.extra_values(time_col).iloc[row]!r} "
            f"of unit {ids[codes[row]]!r} is not after {table.extra_values(time_col).iloc[prev]!r}"
            f" on line {table.line(prev)}; a unit's rows must be in increasing time"
        )
    short = np.flatnonzero(counts < min_rows)
    if short.size:
        u = int(short[0])
        row = int(order[starts[u]])
        raise InvalidError(
            f"{table.where(row, unit_col)}: unit {ids[u]!r} has {int(counts[u])} row(s); "
            f"a run-to-failure history needs at least {min_rows}"
        )
    return Units(
        ids=tuple(str(i) for i in ids),
        order=order.astype(np.int64),
        starts=starts,
        time=time,
        time_kind=kind,
    )


def table_from_frame(frame: pd.DataFrame, named: Sequence[str], path: str = "<frame>") -> Table:
    """A :class:`Table` of a DataFrame of numbers (generated data, notebooks).

    The ``named`` columns (unit, time) are kept as text in :attr:`Table.extra`, as
    :func:`~phactory.monitor.table.read_table` keeps them; every other column must be
    numeric and becomes a variable.
    """
    variables = tuple(str(c) for c in frame.columns if c not in named)
    return Table(
        path=path,
        variables=variables,
        values=frame[list(variables)].to_numpy(dtype=float),
        extra={n: frame[n].astype(str) for n in named},
    )
