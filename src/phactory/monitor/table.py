"""CSV tables for the monitoring commands: one contract for every method.

The contract of ``phactory monitor``, ``batchmon``, ``softsensor`` and ``rul``: a header
row, one row per sample, and every numeric column a variable, except the columns the user
names as something else (a time, a batch or unit id, ``--exclude``). Columns of text
(labels, timestamps nobody named) are not variables; they are listed in
:attr:`Table.ignored` so that a command can say so. A column that is mostly numbers with
a few cells that are not (``1.2.3``, ``n/a`` in a column of floats) is an error naming the
file, line and column, never a silently dropped variable. Empty cells are missing values
(NaN); each method says whether it accepts them (:meth:`Table.require_complete`).

Line numbers count the header as line 1, so data row ``i`` (0-based) is on line ``i + 2``
(quoted fields spanning lines would shift this; monitoring data has none).

pandas parses the file (its C parser); this module only decides what is a variable and
reports problems in the user's terms.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from phactory.errors import InvalidError, NotFoundError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "MAX_BAD_SHOWN",
    "TIME_UNITS",
    "Table",
    "group_rows",
    "read_table",
    "refuse_nonfinite",
    "time_hours",
]

#: Problems named in one error message (the rest are counted).
MAX_BAD_SHOWN = 5
#: A column where at least this share of non-empty cells are numbers is meant as numeric.
_NUMERIC_SHARE = 0.9
#: Cell texts read as a missing value (besides an empty cell), in any case.
_MISSING = ("nan", "NaN", "NAN", "na", "NA", "null", "NULL")
#: Hours in one unit of a numeric time column.
TIME_UNITS: dict[str, float] = {"h": 1.0, "min": 1.0 / 60.0, "s": 1.0 / 3600.0, "d": 24.0}


@dataclass(frozen=True)
class Table:
    """The variables of a CSV file and the columns named as something else.

    Attributes
    ----------
    path
        The file, as given (for messages).
    variables
        Names of the numeric columns that are variables, in file order.
    values
        ``(n_rows, n_variables)`` float array; NaN where a cell was empty.
    extra
        The named non-variable columns (time, batch, unit...), as read (strings or
        numbers), by name.
    ignored
        Text columns that are not variables and were not named.
    """

    path: str
    variables: tuple[str, ...]
    values: np.ndarray
    extra: dict[str, pd.Series] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @staticmethod
    def line(row: int) -> int:
        """The file line of data row ``row`` (0-based; the header is line 1)."""
        return row + 2

    def where(self, row: int, column: str | None = None) -> str:
        """``FILE:LINE`` (and the column) of a data row, for messages."""
        at = f"{self.path}:{self.line(row)}"
        return f"{at} column {column!r}" if column is not None else at

    def require_complete(
        self, what: str = "this method", names: Sequence[str] | None = None
    ) -> None:
        """Refuse missing values (in the columns ``names``, default all), naming where
        the first ones are."""
        import numpy as np

        cols = self.variables if names is None else tuple(names)
        values = self.values if names is None else self.columns(cols)
        bad = np.argwhere(np.isnan(values))
        if bad.size == 0:
            return
        shown = "; ".join(self.where(int(r), cols[int(c)]) for r, c in bad[:MAX_BAD_SHOWN])
        more = f" and {len(bad) - MAX_BAD_SHOWN} more" if len(bad) > MAX_BAD_SHOWN else ""
        raise InvalidError(f"{what} needs every value; missing at {shown}{more}")

    def columns(self, names: Sequence[str], *, role: str = "variable") -> np.ndarray:
        """The values of ``names`` in that order (a model's variables in a new file).

        Raises
        ------
        InvalidError
            If a name is not a numeric column of this file; the message lists them all.
        """
        index = {n: i for i, n in enumerate(self.variables)}
        missing = [n for n in names if n not in index]
        if missing:
            shown = ", ".join(repr(n) for n in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise InvalidError(
                f"{self.path}: the {role} column(s) {shown}{more} are not numeric columns of "
                f"this file (it has {len(self.variables)}: "
                f"{', '.join(self.variables[:10])}{'...' if len(self.variables) > 10 else ''})"
            )
        return self.values[:, [index[n] for n in names]]

    def extra_values(self, name: str) -> pd.Series:
        """A named non-variable column (``--time-col``, ``--batch-col``...)."""
        return self.extra[name]

    def named(self, name: str) -> pd.Series:
        """A named column stripped of surrounding blanks, refused if it was not read as one."""
        if name not in self.extra:
            raise InvalidError(f"{self.path}: column {name!r} was not read as a named column")
        return self.extra[name].astype(str).str.strip()

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, named: Sequence[str], path: str = "<frame>") -> Table:
        """A table of a DataFrame of numbers (generated data, notebooks).

        The ``named`` columns (unit, time...) are kept as text in :attr:`extra`, as
        :func:`read_table` keeps them; every other column must be numeric and becomes a
        variable.
        """
        variables = tuple(str(c) for c in frame.columns if c not in named)
        return cls(
            path=path,
            variables=variables,
            values=frame[list(variables)].to_numpy(dtype=float),
            extra={n: frame[n].astype(str) for n in named},
        )


def group_rows(
    table: Table, column: str, *, what: str = "row"
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The rows of ``table`` grouped by the id in a named column (batch, unit).

    Ids are compared after stripping surrounding blanks; groups are listed in order of
    first appearance and need not be contiguous in the file.

    Parameters
    ----------
    table
        A table that read ``column`` as a named column.
    column
        The id column.
    what
        What an id identifies, for messages (``"the batch id is empty"``).

    Returns
    -------
    ids
        The ``G`` ids, in order of first appearance.
    order
        ``(n,)`` row indices grouped by id (groups in ``ids`` order), within a group in
        file order.
    starts
        ``(G + 1,)`` offsets of each group's rows in ``order``.

    Raises
    ------
    InvalidError
        If an id is empty (naming its file line and column).
    """
    import numpy as np
    import pandas as pd

    text = table.named(column)
    empty = np.flatnonzero(text.eq("").to_numpy())
    if empty.size:
        raise InvalidError(f"{table.where(int(empty[0]), column)}: the {what} id is empty")
    codes, ids = pd.factorize(text, sort=False)
    codes = np.asarray(codes, dtype=np.int64)
    # A stable sort keeps each group's rows in file order.
    order = np.argsort(codes, kind="stable").astype(np.int64)
    counts = np.bincount(codes, minlength=len(ids))
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return tuple(str(i) for i in ids), order, starts


def time_hours(
    table: Table, column: str, unit: str = "h", *, relative: bool = False
) -> tuple[np.ndarray, str]:
    """A named time column as hours [h]: numbers in ``unit``, or ISO 8601 datetimes.

    Every cell of the column is of one kind, decided by the first one: a number (in
    ``unit``, one of :data:`TIME_UNITS`) or an ISO 8601 datetime (one without an offset is
    UTC).

    Parameters
    ----------
    table
        A table that read ``column`` as a named column.
    column
        The time column.
    unit
        Unit of a numeric time column: ``"h"``, ``"min"``, ``"s"`` or ``"d"`` (ignored for
        datetimes).
    relative
        Datetimes as hours since the column's earliest one instead of since 1970-01-01 UTC:
        exact to well below a second, for callers that only need elapsed time.

    Returns
    -------
    hours
        ``(n,)`` the time of each row [h], in the table's row order.
    kind
        ``"number"`` or ``"datetime"``.

    Raises
    ------
    InvalidError
        Naming the file line and column: an empty time, a time that is not finite, not a
        number when the first is one, or neither a number nor an ISO 8601 datetime.
    """
    import numpy as np
    import pandas as pd

    if unit not in TIME_UNITS:
        raise InvalidError(f"unknown time unit {unit!r} (known: {', '.join(TIME_UNITS)})")
    text = table.named(column)
    empty = np.flatnonzero(text.eq("").to_numpy())
    if empty.size:
        raise InvalidError(f"{table.where(int(empty[0]), column)}: the time is empty")
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    is_number = ~np.isnan(numbers)
    if is_number.all():
        bad = np.flatnonzero(~np.isfinite(numbers))
        if bad.size:
            raise InvalidError(f"{table.where(int(bad[0]), column)}: the time is not finite")
        return numbers * TIME_UNITS[unit], "number"
    if is_number[0]:
        r = int(np.flatnonzero(~is_number)[0])
        raise InvalidError(
            f"{table.where(r, column)}: {text.iloc[r][:40]!r} is not a number (the first "
            f"time of the file is a number, so every time must be)"
        )
    stamps = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        r = int(bad[0])
        raise InvalidError(
            f"{table.where(r, column)}: {text.iloc[r][:40]!r} is neither a number nor an "
            f"ISO 8601 datetime"
        )
    ns = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    hours: np.ndarray = ((ns - ns.min()) if relative else ns).astype(float) / 3.6e12
    return hours, "datetime"


def refuse_nonfinite(values: np.ndarray, names: Sequence[str], what: str) -> None:
    """Refuse an array with a missing (NaN) or infinite value, naming the first one.

    ``values`` is ``(rows, len(names))``; ``what`` names the array (``"X"``, ``"the
    training data"``). Rows are counted from 0 (arrays, not file lines: a file's missing
    values are named by line with :meth:`Table.require_complete`).
    """
    import numpy as np

    bad = np.argwhere(~np.isfinite(values))
    if bad.size == 0:
        return
    row, col = (int(v) for v in bad[0])
    in_column = int(np.count_nonzero(bad[:, 1] == col))
    raise InvalidError(
        f"{what}: row {row} column {names[col]!r} is not a finite number (rows count from "
        f"0; a value of {names[col]!r} is missing or infinite in {in_column} row(s), "
        f"{len(bad)} value(s) in all); fill or drop them first"
    )


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        try:
            row = next(csv.reader(f))
        except StopIteration:
            raise InvalidError(f"{path}: the file is empty (expected a header row)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidError(f"{path}:1: cannot read the header row ({exc})") from None
    names = [c.strip() for c in row]
    if not any(names):
        raise InvalidError(f"{path}:1: the header row is empty")
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        raise InvalidError(f"{path}:1: column(s) {blank} have no name in the header row")
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise InvalidError(f"{path}:1: the header names {', '.join(map(repr, dupes))} twice")
    return names


def _numeric_text(path: Path, name: str, column: pd.Series) -> np.ndarray | None:
    """The numbers of a column the parser read as text; ``None`` if it is a text column.

    Raises
    ------
    InvalidError
        If the column is mostly numbers with cells that are not (naming their lines).
    """
    import numpy as np
    import pandas as pd

    text = column.fillna("").astype(str).str.strip()
    empty = text.eq("") | text.str.lower().isin(_MISSING)
    numbers = pd.to_numeric(text.where(~empty), errors="coerce")
    bad = numbers.isna() & ~empty
    filled, n_bad = int((~empty).sum()), int(bad.sum())
    if n_bad == 0:
        return numbers.to_numpy(dtype=float)
    if (filled - n_bad) / filled < _NUMERIC_SHARE:
        return None
    rows = np.flatnonzero(bad.to_numpy())
    shown = "; ".join(
        f"line {Table.line(int(r))}: {text.iloc[int(r)][:40]!r}" for r in rows[:MAX_BAD_SHOWN]
    )
    more = f" and {len(rows) - MAX_BAD_SHOWN} more" if len(rows) > MAX_BAD_SHOWN else ""
    raise InvalidError(f"{path}: column {name!r} is numeric but has {shown}{more}")


def read_table(
    path: str | Path,
    *,
    named: Sequence[str] = (),
    exclude: Sequence[str] = (),
    role: str = "named",
) -> Table:
    """Read a monitoring CSV: numeric columns become variables.

    Parameters
    ----------
    path
        The CSV file (UTF-8, comma separated, header row).
    named
        Columns with a role of their own (time, batch, unit): required, kept in
        :attr:`Table.extra`, never variables.
    exclude
        Columns to leave out (``--exclude``); each must exist.
    role
        How to call ``named`` columns in messages.

    Raises
    ------
    NotFoundError
        If the file does not exist.
    InvalidError
        Naming file, line and column: no header, a duplicated or unknown column name, a
        row with the wrong number of cells, a numeric column with cells that are not
        numbers, no numeric column at all.
    """
    import numpy as np
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{p}: no such file")
    names = _header(p)
    unknown = [c for c in (*named, *exclude) if c not in names]
    if unknown:
        raise InvalidError(
            f"{p}:1: no column {', '.join(map(repr, unknown))} in the header "
            f"(columns: {', '.join(names[:12])}{'...' if len(names) > 12 else ''})"
        )
    skip = set(named) | set(exclude)
    # One pass of pandas' C parser: columns that parse as numbers (the usual case, and
    # thousands of wavelength columns) need no look cell by cell; only the columns that
    # did not (text, or numbers with a typo) are examined as text below.
    try:
        frame = pd.read_csv(
            p,
            dtype={n: str for n in skip},
            keep_default_na=False,
            na_values=list(_MISSING),
            skipinitialspace=True,
            encoding="utf-8-sig",
        )
    except pd.errors.ParserError as exc:
        raise InvalidError(f"{p}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InvalidError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    frame.columns = names
    if frame.empty:
        raise InvalidError(f"{p}: no data rows after the header")
    variables: list[str] = []
    columns: list[np.ndarray] = []
    ignored: list[str] = []
    for name in names:
        if name in skip:
            continue
        column = frame[name]
        if column.dtype.kind in "fiub":
            values = column.to_numpy(dtype=float)
        else:
            numeric = _numeric_text(p, name, column)
            if numeric is None:
                ignored.append(name)
                continue
            values = numeric
        inf = np.flatnonzero(np.isinf(values))
        if inf.size:
            raise InvalidError(f"{p}:{Table.line(int(inf[0]))}: column {name!r} is infinite")
        variables.append(name)
        columns.append(values)
    if not variables:
        raise InvalidError(
            f"{p}: no numeric column to use as a variable "
            f"(text columns: {', '.join(ignored[:12]) or 'none'})"
        )
    extra = {n: frame[n] for n in named}
    return Table(
        path=str(p),
        variables=tuple(variables),
        values=np.column_stack(columns),
        extra=extra,
        ignored=tuple(ignored),
    )
