"""Scoring RUL predictions against the truth: RMSE, the NASA score, interval coverage.

The truth file gives each test unit's true remaining life after its last row, either as
``unit, rul`` with a header naming the unit column (matched by unit id), or as a single
column in the order in which the units first appear in the test file (NASA's
``RUL_FD001.txt`` with or without a header line).

References
----------
.. [1] A. Saxena, K. Goebel, D. Simon, N. Eklund, "Damage propagation modeling for
   aircraft engine run-to-failure simulation", Proc. Int. Conf. Prognostics and Health
   Management (PHM), 2008 (the scoring function, eq. 5).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phactory.errors import InvalidError, NotFoundError
from phactory.monitor.rul.units import unit_key

__all__ = ["RulScores", "nasa_score", "read_truth", "score_predictions"]


def nasa_score(predicted: np.ndarray, true: np.ndarray) -> float:
    """The PHM08 scoring function [1]_: late predictions cost more than early ones.

    ``sum(exp(-d/13) - 1)`` over early predictions (``d = predicted - true < 0``) plus
    ``sum(exp(d/10) - 1)`` over late ones; 0 is perfect, lower is better.
    """
    d = np.asarray(predicted, dtype=float) - np.asarray(true, dtype=float)
    return float(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0)).sum())


@dataclass(frozen=True)
class RulScores:
    """Accuracy of RUL predictions over ``n`` units.

    ``rmse`` and ``mae`` [time units], ``nasa_score`` (see :func:`nasa_score`),
    ``coverage`` the share of true RULs inside ``[lower, upper]``, ``width`` the mean
    interval width.
    """

    n: int
    rmse: float
    mae: float
    nasa_score: float
    coverage: float
    width: float


def score_predictions(
    rul: np.ndarray, lower: np.ndarray, upper: np.ndarray, true: np.ndarray
) -> RulScores:
    """Scores of predictions ``rul`` with intervals against the true RUL."""
    r, lo, hi, t = (np.asarray(a, dtype=float) for a in (rul, lower, upper, true))
    d = r - t
    return RulScores(
        n=int(t.size),
        rmse=float(np.sqrt(np.mean(d**2))),
        mae=float(np.mean(np.abs(d))),
        nasa_score=nasa_score(r, t),
        coverage=float(np.mean((t >= lo) & (t <= hi))),
        width=float(np.mean(hi - lo)),
    )


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_truth(path: str | Path, unit_col: str, units: Sequence[str]) -> np.ndarray:
    """True RUL of each of ``units`` (in that order) from a truth file.

    Parameters
    ----------
    path
        ``unit, rul`` with a header naming ``unit_col`` (the RUL column is the one named
        ``rul``, any case, or the only other column), or a single column of RULs, with or
        without a header, in the order of ``units``.
    unit_col
        The unit column's name (as in the test file).
    units
        Unit ids of the predictions, in order of first appearance in the test file.

    Raises
    ------
    InvalidError
        Naming the file and line: a value that is not a number, a unit missing from the
        truth or given twice, a single column with a different number of values than
        units, several columns without ``unit_col`` in the header.
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{p}: no such file")
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            rows = [
                (i + 1, [c.strip() for c in row])
                for i, row in enumerate(csv.reader(f))
                if any(c.strip() for c in row)
            ]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidError(f"{p}: cannot read the truth file ({exc})") from None
    if not rows:
        raise InvalidError(f"{p}: the truth file is empty")
    first_line, first = rows[0]
    header = [c for c in first if c] if any(_number(c) is None for c in first if c) else None
    body = rows[1:] if header is not None else rows
    if header is not None and unit_col in header:
        ui = header.index(unit_col)
        others = [i for i, h in enumerate(header) if i != ui]
        named = [i for i in others if header[i].strip().lower() == "rul"]
        if named:
            ri = named[0]
        elif len(others) == 1:
            ri = others[0]
        else:
            raise InvalidError(
                f"{p}:{first_line}: which column is the RUL? name it 'rul' "
                f"(columns: {', '.join(header)})"
            )
        truth: dict[str, tuple[float, int]] = {}
        for line, row in body:
            if len(row) <= max(ui, ri):
                raise InvalidError(f"{p}:{line}: expected {len(header)} values, got {len(row)}")
            v = _number(row[ri])
            if v is None:
                raise InvalidError(f"{p}:{line} column {header[ri]!r}: {row[ri]!r} is not a number")
            key = unit_key(row[ui])
            if key in truth:
                raise InvalidError(
                    f"{p}:{line}: unit {row[ui]!r} again (first on line {truth[key][1]})"
                )
            truth[key] = (v, line)
        missing = [u for u in units if unit_key(u) not in truth]
        if missing:
            raise InvalidError(
                f"{p}: no true RUL for unit(s) {', '.join(missing[:10])}"
                + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            )
        return np.array([truth[unit_key(u)][0] for u in units])
    width = {len(row) for _, row in body}
    if (header is not None and len(header) > 1) or width - {1}:
        raise InvalidError(
            f"{p}:{first_line}: several columns but no {unit_col!r} in a header; give a header "
            f"with {unit_col!r} and 'rul', or a single column in unit order"
        )
    values = []
    for line, row in body:
        v = _number(row[0])
        if v is None:
            raise InvalidError(f"{p}:{line}: {row[0]!r} is not a number")
        values.append(v)
    if len(values) != len(units):
        raise InvalidError(
            f"{p}: {len(values)} true RUL value(s) for {len(units)} test unit(s); a single "
            "column must give one per unit, in the order the units first appear"
        )
    return np.array(values)
