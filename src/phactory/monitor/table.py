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

__all__ = ["MAX_BAD_SHOWN", "Table", "read_table"]

#: Problems named in one error message (the rest are counted).
MAX_BAD_SHOWN = 5
#: A column where at least this share of non-empty cells are numbers is meant as numeric.
_NUMERIC_SHARE = 0.9
#: Cell texts read as a missing value (besides an empty cell), in any case.
_MISSING = ("nan", "NaN", "NAN", "na", "NA", "null", "NULL")


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

    def require_complete(self, what: str = "this method") -> None:
        """Refuse missing values, naming where the first ones are."""
        import numpy as np

        bad = np.argwhere(np.isnan(self.values))
        if bad.size == 0:
            return
        shown = "; ".join(
            self.where(int(r), self.variables[int(c)]) for r, c in bad[:MAX_BAD_SHOWN]
        )
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
