"""Queries: raw samples of tags in a time range, or their aggregates on a regular grid.

Times are half-open ranges ``[start, end)``. Raw answers are long DataFrames (one row per
sample: ``time`` aware UTC, ``tag``, ``value``, ``quality``, ``seq``, ``source``,
``historical``), in time order, then tag order as asked, then ``seq``. A value is a float
(booleans 0.0/1.0, ``NaN`` for a number that was not finite) or text.

Aggregated answers (``every`` given) are wide DataFrames: the index ``time`` holds the
start of each step of a grid aligned to the Unix epoch (UTC) with steps of ``every``, from
the step holding ``start`` to the one holding the last microsecond before ``end``; one
column per tag, in the order asked; a step without an aggregated value holds ``NaN``
(``0`` for ``count``). Each step aggregates the samples in it *and* in ``[start, end)``.

Where the answer comes from: ``[start, end)`` is cut into pieces (:func:`pieces`). With
``every`` a whole number of hours, the whole hours inside the range come from the 1-hour
table, the whole minutes left at its ends from the 1-minute table, and the rest (less
than a minute at each end) from raw samples; with ``every`` a whole number of minutes,
the same without the hour level; otherwise everything is read raw. Each piece is
aggregated per tag and step in the database (:func:`~phactory.historian.aggregates.partial_sql`)
and the partials are merged (see :mod:`phactory.historian.aggregates`), so a table and
the raw samples give the same numbers. A week of 1-minute means of a tag at 1 Hz reads
10,080 rows of the 1-minute table instead of 604,800 samples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from phactory.errors import InvalidError
from phactory.historian.aggregates import AGGS, LEVELS, Agg, partial_sql
from phactory.historian.database import Cursor, Database
from phactory.historian.tags import TagCatalog
from phactory.historian.times import time_index, to_us, us_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_STEPS", "RAW_COLUMNS", "Piece", "SampleReader", "pieces"]

#: Columns of a raw answer.
RAW_COLUMNS: Final = ("time", "tag", "value", "quality", "seq", "source", "historical")
#: Most grid steps × tags of one aggregated answer.
MAX_STEPS: Final = 5_000_000


@dataclass(frozen=True, slots=True)
class Piece:
    """A part ``[start_us, end_us)`` of a query read from ``table`` (``None``: raw)."""

    table: str | None
    start_us: int
    end_us: int


def pieces(start_us: int, end_us: int, every_us: int) -> list[Piece]:
    """Cut ``[start_us, end_us)`` into the pieces a query reads (see the module docstring):
    the whole buckets of the coarsest level dividing ``every_us``, then the finer levels
    and raw samples at the ends. Ordered by time."""
    levels = [length for length in LEVELS if every_us % length == 0]
    out: list[Piece] = []

    def split(a: int, b: int, rest: list[int]) -> None:
        if a >= b:
            return
        if not rest:
            out.append(Piece(None, a, b))
            return
        length = rest[0]
        lo, hi = -(-a // length) * length, (b // length) * length
        if lo >= hi:
            split(a, b, rest[1:])
            return
        split(a, lo, rest[1:])
        out.append(Piece(LEVELS[length], lo, hi))
        split(hi, b, rest[1:])

    split(start_us, end_us, levels)
    return out


def _range(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    a, b = to_us(start, "start"), to_us(end, "end")
    if a >= b:
        raise InvalidError(
            f"start {start.isoformat()} must be before end {end.isoformat()} "
            "(the range is [start, end))"
        )
    return a, b


def _tag_list(tags: str | Sequence[str]) -> list[str]:
    names = [tags] if isinstance(tags, str) else list(tags)
    if not names:
        raise InvalidError("name at least one tag")
    return list(dict.fromkeys(names))


class SampleReader:
    """Answers queries (see the module docstring)."""

    def __init__(self, db: Database, catalog: TagCatalog) -> None:
        self.db = db
        self.catalog = catalog

    def raw(
        self,
        tags: str | Sequence[str],
        start: dt.datetime,
        end: dt.datetime,
        *,
        max_rows: int | None = None,
    ) -> pd.DataFrame:
        """The samples of ``tags`` in ``[start, end)`` (long format, see the module docstring).

        Raises
        ------
        NotFoundError
            Naming every unknown tag.
        InvalidError
            If ``start >= end``, a time is naive, or there are more than ``max_rows``.
        """
        import numpy as np
        import pandas as pd

        names = _tag_list(tags)
        a, b = _range(start, end)
        limit = "" if max_rows is None else f" LIMIT {int(max_rows) + 1}"
        rows: list[tuple[Any, ...]] = []
        with self.db.transaction() as cur:
            ids = self.catalog.resolve(cur, names)
            for order, name in enumerate(names):
                cur.execute(
                    "SELECT t_us, seq, value, text, quality, source, historical "
                    f"FROM hist_samples WHERE tag_id = ? AND t_us >= ? AND t_us < ? "
                    f"ORDER BY t_us, seq{limit}",
                    (ids[name], a, b),
                )
                rows.extend((order, *r) for r in cur.fetchall())
                if max_rows is not None and len(rows) > max_rows:
                    raise InvalidError(
                        f"more than {max_rows} samples of {', '.join(names)} between "
                        f"{start.isoformat()} and {end.isoformat()}: ask for aggregates "
                        "(every) or a shorter range"
                    )
        if not rows:
            return pd.DataFrame(
                {
                    "time": pd.Series([], dtype="datetime64[us, UTC]"),
                    "tag": pd.Series([], dtype=object),
                    "value": pd.Series([], dtype=float),
                    "quality": pd.Series([], dtype=object),
                    "seq": pd.Series([], dtype="int64"),
                    "source": pd.Series([], dtype=object),
                    "historical": pd.Series([], dtype=bool),
                }
            )
        order_, t_us, seq, value, text, quality, source, historical = zip(*rows, strict=True)
        t = np.asarray(t_us, dtype="int64")
        ordinal = np.asarray(order_, dtype="int64")
        seqs = np.asarray(seq, dtype="int64")
        sort = np.lexsort((seqs, ordinal, t))
        has_text = any(x is not None for x in text)
        if has_text:
            values: Any = np.asarray(
                [
                    x if x is not None else (np.nan if v is None else v)
                    for v, x in zip(value, text, strict=True)
                ],
                dtype=object,
            )
        else:
            values = np.asarray([np.nan if v is None else v for v in value], dtype=float)
        frame = pd.DataFrame(
            {
                "time": time_index(t[sort]),
                "tag": np.asarray(names, dtype=object)[ordinal[sort]],
                "value": values[sort],
                "quality": np.asarray(quality, dtype=object)[sort],
                "seq": seqs[sort],
                "source": np.asarray(source, dtype=object)[sort],
                "historical": np.asarray(historical, dtype=bool)[sort],
            }
        )
        return frame

    def aggregate(
        self,
        tags: str | Sequence[str],
        start: dt.datetime,
        end: dt.datetime,
        every: dt.timedelta,
        agg: Agg = "mean",
        *,
        max_cells: int | None = None,
        raw_only: bool = False,
    ) -> pd.DataFrame:
        """Aggregates of ``tags`` on a grid of ``every`` (wide format, see the module
        docstring), of at most ``max_cells`` steps × tags (``None``: :data:`MAX_STEPS`);
        ``raw_only`` reads raw samples
        only (to check the tables against).

        Raises
        ------
        NotFoundError
            Naming every unknown tag.
        InvalidError
            If ``start >= end``, a time is naive, ``every`` is not a positive duration,
            ``agg`` is unknown, or the grid would exceed ``max_cells``.
        """
        import numpy as np
        import pandas as pd

        if agg not in AGGS:
            raise InvalidError(f"agg must be one of {', '.join(AGGS)}, not {agg!r}")
        names = _tag_list(tags)
        a, b = _range(start, end)
        e = us_of(every, "every")
        origin = (a // e) * e
        steps = -(-(b - origin) // e)
        max_cells = MAX_STEPS if max_cells is None else max_cells
        if steps * len(names) > max_cells:
            raise InvalidError(
                f"{steps} steps of {every} for {len(names)} tag(s) is more than "
                f"{max_cells} values: ask for a longer every or a shorter range"
            )
        parts = [Piece(None, a, b)] if raw_only else pieces(a, b, e)
        with self.db.transaction() as cur:
            ids = self.catalog.resolve(cur, names)
            id_list = list(ids.values())
            fetched = [self._partial(cur, agg, p, origin, e, id_list) for p in parts]
        column = {tag_id: i for i, tag_id in enumerate(id_list)}
        rows = [r for part in fetched for r in part]
        dtype = "int64" if agg == "count" else "float64"
        grid = np.zeros((steps, len(names)), dtype=dtype)
        if agg != "count":
            grid[:] = np.nan
        if rows:
            frame = pd.DataFrame(rows, columns=["col", "k", "a", "b", "c"][: len(rows[0])])
            frame["col"] = frame["col"].map(column)
            _merge(frame, agg, grid)
        times = time_index(origin + e * np.arange(steps, dtype="int64"))
        out = pd.DataFrame(grid, index=times.rename("time"), columns=names)
        out.columns.name = "tag"
        return out

    @staticmethod
    def _partial(
        cur: Cursor, agg: Agg, piece: Piece, origin: int, every: int, ids: list[int]
    ) -> list[tuple[Any, ...]]:
        sql = partial_sql(agg, piece.table, origin, every, len(ids))
        cur.execute(sql, (*ids, piece.start_us, piece.end_us))
        return cur.fetchall()


def _merge(frame: pd.DataFrame, agg: Agg, grid: Any) -> None:
    """Merge partial aggregates into ``grid``: columns ``col`` (the grid's column), ``k``
    (its row), then the values of :func:`~phactory.historian.aggregates.partial_sql`
    (``a, b`` for ``mean``; ``a`` for ``min``, ``max``, ``count``; ``a, b, c`` = time,
    number and value for ``first`` and ``last``)."""
    key = ["col", "k"]
    if agg == "mean":
        sums = frame.groupby(key)[["a", "b"]].sum()
        n = sums["a"].to_numpy(dtype=float)
        total = sums["b"].to_numpy(dtype=float)
        keep = n > 0
        cols, steps = _index(sums.index)
        grid[steps[keep], cols[keep]] = total[keep] / n[keep]
        return
    if agg in ("min", "max", "count"):
        how = {"min": "min", "max": "max", "count": "sum"}[agg]
        values = frame.dropna(subset=["a"]).groupby(key)["a"].agg(how)
        cols, steps = _index(values.index)
        grid[steps, cols] = values.to_numpy(dtype=grid.dtype)
        return
    ordered = frame.sort_values(["col", "k", "a", "b"], kind="stable")
    groups = ordered.groupby(key, sort=False)
    pick = groups.tail(1) if agg == "last" else groups.head(1)
    rows = pick["k"].to_numpy(dtype="int64")
    grid[rows, pick["col"].to_numpy(dtype="int64")] = pick["c"].to_numpy(dtype=float)


def _index(index: Any) -> tuple[Any, Any]:
    import numpy as np

    cols = np.asarray(index.get_level_values(0), dtype="int64")
    steps = np.asarray(index.get_level_values(1), dtype="int64")
    return cols, steps
