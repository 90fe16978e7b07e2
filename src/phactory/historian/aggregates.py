"""Pre-computed aggregates: what they hold, how a batch of new samples updates them, and
how a query rolls them up.

Two levels, 1 minute and 1 hour (:data:`LEVELS`): trends of hours to weeks are drawn from
minutes (10,080 rows a week per tag instead of 604,800 samples at 1 Hz), trends of months
to years from hours (8,760 rows a year); one level more (a day) would save little over the
hour level, and each level costs an upsert per ingested batch. Buckets are aligned to the
Unix epoch (UTC), so that any query step that is a whole number of minutes (hours) is a
union of whole 1-minute (1-hour) buckets.

What a bucket keeps (per tag): ``n`` (the count), ``total`` (the sum, so the mean is
``total / n``), ``lo`` and ``hi`` (min and max), and the first and last value in ``(t_us,
seq)`` order with their keys (``first_t, first_seq, first_v`` / ``last_t, last_seq,
last_v``). Each of them *merges*: the aggregate of two disjoint sets of samples is computed
from the two aggregates alone (sums and counts add, min of mins, the later of two lasts).
That is what makes them exact under late and out-of-order samples: a sample that arrives
after its minute was aggregated is merged into the stored bucket, and the last value is
replaced only if the new one is later in ``(t_us, seq)``. The same merge combines the
partial aggregates of one query (whole buckets from a table, ragged ends from raw samples).

What is aggregated: numeric values (booleans as 0/1) whose quality is not ``bad``; as in
OPC UA's aggregates (OPC 10000-13 §5.3), a bad value is not a measurement and is left out,
an uncertain one is counted. Text values, and numbers that are not finite, are kept as
raw samples only. Sums are floating-point: a permutation of the same samples may differ in
the last bits of ``total`` (rounding in another order), all other fields are exact.

Only new samples are merged (:mod:`phactory.historian.ingest` inserts a batch's samples
that are not stored yet and aggregates exactly those), so a duplicate never counts twice.
"""

from __future__ import annotations

from typing import Final, Literal

from phactory.historian.database import Dialect
from phactory.historian.times import HOUR_US, MINUTE_US

__all__ = ["AGGS", "LEVELS", "Agg", "bucket_sql", "partial_sql", "upsert_sql"]

Agg = Literal["mean", "min", "max", "first", "last", "count"]
AGGS: Final[tuple[Agg, ...]] = ("mean", "min", "max", "first", "last", "count")

#: Aggregate levels, coarsest first: bucket length [µs] -> table.
LEVELS: Final[dict[int, str]] = {HOUR_US: "hist_agg_1h", MINUTE_US: "hist_agg_1m"}

#: Which samples are aggregated (see the module docstring).
AGGREGATED: Final = "value IS NOT NULL AND quality <> 'bad'"


def bucket_sql(expr: str, length_us: int) -> str:
    """SQL of the start of the bucket of ``length_us`` holding time ``expr`` (floor, also
    before 1970: integer division truncates toward zero on both databases)."""
    n = int(length_us)
    return f"(CASE WHEN {expr} >= 0 THEN {expr} / {n} ELSE ({expr} - {n - 1}) / {n} END) * {n}"


def upsert_sql(dialect: Dialect, table: str, length_us: int, source: str) -> str:
    """Merge the aggregates of the samples in ``source`` into ``table`` (see the module
    docstring). ``source`` has the columns ``tag_id, t_us, seq, value, quality`` and must
    hold only samples not merged before."""
    least, greatest = ("min", "max") if dialect == "sqlite" else ("LEAST", "GREATEST")

    def pick(new: str, old: str, column: str, op: str) -> str:
        return (
            f"{column} = CASE WHEN (excluded.{new}_t, excluded.{new}_seq) {op} "
            f"(a.{old}_t, a.{old}_seq) THEN excluded.{column} ELSE a.{column} END"
        )

    firsts = ", ".join(pick("first", "first", c, "<") for c in ("first_t", "first_seq", "first_v"))
    lasts = ", ".join(pick("last", "last", c, ">") for c in ("last_t", "last_seq", "last_v"))
    # Every SET expression reads the row as it was before the update (SQL standard, on
    # both databases), so first_t may be compared in the CASE of first_v after its own
    # assignment: the order of the assignments does not matter.
    return f"""
INSERT INTO {table} AS a (tag_id, bucket_us, n, total, lo, hi,
                          first_t, first_seq, first_v, last_t, last_seq, last_v)
SELECT tag_id, b, count(*), sum(value), min(value), max(value),
       min(ft), min(fs), min(fv), min(lt), min(ls), min(lv)
FROM (
    SELECT tag_id, b, value,
           first_value(t_us) OVER w AS ft, first_value(seq) OVER w AS fs,
           first_value(value) OVER w AS fv,
           last_value(t_us) OVER w AS lt, last_value(seq) OVER w AS ls,
           last_value(value) OVER w AS lv
    FROM (SELECT tag_id, {bucket_sql("t_us", length_us)} AS b, t_us, seq, value
          FROM {source} WHERE {AGGREGATED}) AS s
    WINDOW w AS (PARTITION BY tag_id, b ORDER BY t_us, seq
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
) AS x
WHERE true
GROUP BY tag_id, b
ON CONFLICT (tag_id, bucket_us) DO UPDATE SET
    n = a.n + excluded.n,
    total = a.total + excluded.total,
    lo = {least}(a.lo, excluded.lo),
    hi = {greatest}(a.hi, excluded.hi),
    {firsts},
    {lasts}"""


def partial_sql(agg: Agg, table: str | None, origin_us: int, every_us: int, n_tags: int) -> str:
    """SQL of the partial aggregates of one piece of a query, per tag and grid step.

    ``table`` is an aggregate table, or ``None`` for the raw samples. The grid has steps
    of ``every_us`` from ``origin_us`` (no time of the piece is before it); the step index
    is ``k``. Parameters: ``n_tags`` tag ids, then the piece's start and end [µs].

    Columns: ``tag_id, k`` and, by ``agg``: ``mean`` ``n, total``; ``min``/``max``/``count``
    one value; ``first``/``last`` ``t, seq, v`` of the extreme sample of the step.
    """
    o, e = int(origin_us), int(every_us)
    marks = ", ".join("?" * n_tags)
    if table is None:
        t, src, where = "t_us", "hist_samples", f" AND {AGGREGATED}"
        cols = {"n": "count(value)", "total": "sum(value)", "lo": "min(value)",
                "hi": "max(value)", "ext": ("t_us", "seq", "value")}  # fmt: skip
    else:
        t, src, where = "bucket_us", table, ""
        # PostgreSQL sums a BIGINT as NUMERIC: back to BIGINT.
        cols = {"n": "CAST(sum(n) AS BIGINT)", "total": "sum(total)", "lo": "min(lo)",
                "hi": "max(hi)"}  # fmt: skip
    k = f"({t} - {o}) / {e}"
    filt = f"tag_id IN ({marks}) AND {t} >= ? AND {t} < ?{where}"
    if agg in ("mean", "min", "max", "count"):
        values = {"mean": f"{cols['n']}, {cols['total']}", "min": cols["lo"],
                  "max": cols["hi"], "count": cols["n"]}[agg]  # fmt: skip
        return f"SELECT tag_id, {k} AS k, {values} FROM {src} WHERE {filt} GROUP BY tag_id, k"
    if table is None:
        ts, ss, vs = "t_us", "seq", "value"
    else:
        ts, ss, vs = (f"{agg}_t", f"{agg}_seq", f"{agg}_v")
    order = "" if agg == "first" else " DESC"
    return f"""
SELECT tag_id, k, t, s, v FROM (
    SELECT tag_id, {k} AS k, {ts} AS t, {ss} AS s, {vs} AS v,
           row_number() OVER (PARTITION BY tag_id, {k} ORDER BY {ts}{order}, {ss}{order}) AS r
    FROM {src} WHERE {filt}
) AS x WHERE r = 1"""
