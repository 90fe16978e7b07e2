"""The 1-minute and 1-hour aggregates: a worked example computed by hand, and the
invariant that any order of arrival, with replays, gives what one ordered ingest gives.

Worked example (tag BR1/temp, seconds after 2025-03-01T00:00Z; ``bad`` is left out):

=====  ======  ===  =======  ===========================================
batch  t [s]   seq  value    note
=====  ======  ===  =======  ===========================================
1      10      1    2.0
1      20      2    4.0
1      50      3    9.0
1      65      4    1.0
1      70      5    7.0      quality bad: stored, not aggregated
1      110     6    3.0
2      5       7    6.0      late: the new first of minute 0
2      59      8    5.0      late: the new last of minute 0
2      65      9    8.0      same time as seq 4, later by its number
2      110     10   0.0      same time as seq 6: the new last of minute 1
3      10..50  1-3  (100.0)  replays (historical), seq 2 with another value
=====  ======  ===  =======  ===========================================

minute 0: 6, 2, 4, 9, 5 -> n 5, sum 26, mean 5.2, min 2, max 9, first 6, last 5.
minute 1: 1, 8, 3, 0 -> n 4, sum 12, mean 3, min 0, max 8, first 1 (t 65 seq 4), last 0.
hour 0: n 9, sum 38, mean 38/9, min 0, max 9, first 6, last 0.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.historian import Historian, Sample
from phactory.historian.query import Piece, pieces
from phactory.historian.times import HOUR_US, MINUTE_US

from .conftest import T0_US, at, dump, us, wipe

TAG = "mab/usp/cell1/BR1/temp"
MINUTE = dt.timedelta(minutes=1)


def _s(t: float, seq: int, value: Any, **kw: Any) -> Sample:
    return Sample(TAG, us(t), value, seq, source="edge-1", unit="degC", **kw)


BATCH_1 = [_s(10, 1, 2.0), _s(20, 2, 4.0), _s(50, 3, 9.0), _s(65, 4, 1.0),
           _s(70, 5, 7.0, quality="bad"), _s(110, 6, 3.0)]  # fmt: skip
BATCH_2 = [_s(110, 10, 0.0), _s(5, 7, 6.0), _s(65, 9, 8.0), _s(59, 8, 5.0)]
BATCH_3 = [_s(10, 1, 2.0, historical=True), _s(20, 2, 100.0, historical=True),
           _s(50, 3, 9.0, historical=True)]  # fmt: skip


@pytest.fixture
def worked(historian: Historian) -> Historian:
    """The historian after the three batches of the worked example."""
    assert historian.ingest(BATCH_1).stored == 6
    assert historian.ingest(BATCH_2).stored == 4
    result = historian.ingest(BATCH_3)
    assert (result.stored, result.duplicates) == (0, 3)
    return historian


def test_minute_and_hour_tables_hold_the_hand_computed_aggregates(worked: Historian) -> None:
    # (tag, bucket, n, total, lo, hi, first_t, first_seq, first_v, last_t, last_seq, last_v)
    assert dump(worked, "hist_agg_1m") == [
        (TAG, T0_US, 5, 26.0, 2.0, 9.0, us(5), 7, 6.0, us(59), 8, 5.0),
        (TAG, T0_US + MINUTE_US, 4, 12.0, 0.0, 8.0, us(65), 4, 1.0, us(110), 10, 0.0),
    ]
    assert dump(worked, "hist_agg_1h") == [
        (TAG, T0_US, 9, 38.0, 0.0, 9.0, us(5), 7, 6.0, us(110), 10, 0.0)
    ]


@pytest.mark.parametrize(
    ("agg", "minute_0", "minute_1", "hour_0"),
    [
        ("mean", 5.2, 3.0, 38 / 9),
        ("min", 2.0, 0.0, 0.0),
        ("max", 9.0, 8.0, 9.0),
        ("first", 6.0, 1.0, 6.0),
        ("last", 5.0, 0.0, 0.0),
        ("count", 5, 4, 9),
    ],
)
def test_queries_answer_the_hand_computed_aggregates(
    worked: Historian, agg: Any, minute_0: float, minute_1: float, hour_0: float
) -> None:
    minutes = worked.query(TAG, at(0), at(180), every=MINUTE, agg=agg)
    assert list(minutes.index) == [at(0), at(60), at(120)]
    assert minutes[TAG].iloc[:2].tolist() == pytest.approx([minute_0, minute_1])
    empty = minutes[TAG].iloc[2]
    assert empty == 0 if agg == "count" else math.isnan(empty)
    hour = worked.query(TAG, at(0), at(3600), every=dt.timedelta(hours=1), agg=agg)
    assert hour[TAG].tolist() == pytest.approx([hour_0])
    # Ten seconds is not a multiple of a minute: read raw, the same numbers per minute.
    assert worked.query(TAG, at(0), at(120), every=dt.timedelta(seconds=120), agg=agg)[
        TAG
    ].tolist() == pytest.approx([hour_0])


def test_a_range_cutting_minutes_counts_only_its_samples(worked: Historian) -> None:
    # [30 s, 100 s): minute 0 keeps t 50 and 59 (9, 5); minute 1 keeps t 65 twice (1, 8).
    for agg, expected in [("mean", [7.0, 4.5]), ("first", [9.0, 1.0]), ("last", [5.0, 8.0]),
                          ("count", [2, 2])]:  # fmt: skip
        got = worked.query(TAG, at(30), at(100), every=MINUTE, agg=agg)  # type: ignore[arg-type]
        assert list(got.index) == [at(0), at(60)]
        assert got[TAG].tolist() == pytest.approx(expected), agg


def test_raw_rows_keep_the_first_copy_of_a_replayed_sample(worked: Historian) -> None:
    raw = worked.query(TAG, at(0), at(120))
    assert raw["seq"].tolist() == [7, 1, 2, 3, 8, 4, 9, 5, 6, 10]
    row = raw[raw["seq"] == 2].iloc[0]
    assert row["value"] == 4.0 and not row["historical"]  # not the replayed 100.0
    assert raw[raw["seq"] == 5]["quality"].tolist() == ["bad"]


def test_minute_queries_read_the_minute_table_not_the_samples(worked: Historian) -> None:
    with worked.database.transaction(write=True) as cur:
        cur.execute("DELETE FROM hist_samples")
    means = worked.query(TAG, at(0), at(120), every=MINUTE)
    assert means[TAG].tolist() == pytest.approx([5.2, 3.0])
    # Two seconds are no multiple of a minute: raw samples only, now gone.
    assert worked.query(TAG, at(0), at(120), every=dt.timedelta(seconds=2))[TAG].isna().all()


def test_pieces_take_whole_hours_then_minutes_then_raw_ends() -> None:
    h, m = HOUR_US, MINUTE_US
    a, b = 3 * h - 90 * 1_000_000, 5 * h + 2 * m + 7
    assert pieces(a, b, h) == [
        Piece(None, a, 3 * h - m),
        Piece("hist_agg_1m", 3 * h - m, 3 * h),
        Piece("hist_agg_1h", 3 * h, 5 * h),
        Piece("hist_agg_1m", 5 * h, 5 * h + 2 * m),
        Piece(None, 5 * h + 2 * m, b),
    ]
    assert pieces(a, b, 10 * m) == [
        Piece(None, a, 3 * h - m),
        Piece("hist_agg_1m", 3 * h - m, 5 * h + 2 * m),
        Piece(None, 5 * h + 2 * m, b),
    ]
    assert pieces(a, b, 30 * 1_000_000) == [Piece(None, a, b)]
    assert pieces(h + 5, h + 10, h) == [Piece(None, h + 5, h + 10)]


def test_tables_and_raw_samples_agree_on_ragged_ranges(historian: Historian) -> None:
    rng = np.random.default_rng(7)
    n = 3 * 3600
    t = np.sort(rng.choice(4 * 3600 * 10, size=n, replace=False)) / 10 - 1800
    values = rng.normal(50, 10, size=n).round(3)
    samples = [
        Sample(TAG, us(float(x)), float(v), i)
        for i, (x, v) in enumerate(zip(t, values, strict=True))
    ]
    historian.ingest(samples)
    start, end = at(-1234.5), at(7777.7)
    for every in (MINUTE, dt.timedelta(minutes=7), dt.timedelta(hours=1)):
        for agg in ("mean", "min", "max", "first", "last", "count"):
            fast = historian.query(TAG, start, end, every=every, agg=agg)  # type: ignore[arg-type]
            slow = historian.reader.aggregate(TAG, start, end, every, agg, raw_only=True)  # type: ignore[arg-type]
            assert fast.index.equals(slow.index)
            np.testing.assert_allclose(fast[TAG], slow[TAG], rtol=1e-12, err_msg=f"{every} {agg}")


# -- the invariant ---------------------------------------------------------------------

_TAGS = ["a/b/c/u1/x", "a/b/c/u1/y", "a/b/c/u2/z"]


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[Sample], list[list[Sample]]]:
    """Distinct samples (keys), and the same samples arriving shuffled, in batches, with
    replays; a replay may carry another value (the first copy stored counts)."""
    n = draw(st.integers(1, 40))
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(_TAGS), st.integers(-200, 7400), st.integers(0, 3)),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    value = st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3)),
        st.booleans(),
        st.just("text"),
    )
    samples = [
        Sample(
            tag,
            us(t),
            draw(value),
            seq,
            quality=draw(st.sampled_from(["good", "uncertain", "bad"])),
        )
        for tag, t, seq in keys
    ]
    arrivals = draw(st.permutations(samples))
    replays = draw(st.lists(st.sampled_from(samples), max_size=15))
    replays = [Sample(s.tag, s.t_us, 999.0, s.seq, historical=True) for s in replays]
    mixed = list(arrivals)
    for r in replays:  # every replay after its original: the first copy holds the value
        first = mixed.index(
            next(s for s in mixed if (s.tag, s.t_us, s.seq) == (r.tag, r.t_us, r.seq))
        )
        mixed.insert(draw(st.integers(first + 1, len(mixed))), r)
    cuts = sorted(draw(st.lists(st.integers(0, len(mixed)), max_size=4)))
    bounds = [0, *cuts, len(mixed)]
    batches = [mixed[i:j] for i, j in itertools.pairwise(bounds)]
    ordered = sorted(samples, key=lambda s: (s.t_us, s.tag, s.seq))
    return ordered, batches


def _close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]], total_column: int | None) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        for i, (x, y) in enumerate(zip(ra, rb, strict=True)):
            if i == total_column:
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6):
                    return False
            elif x != y:
                return False
    return True


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=_histories())
def test_any_arrival_order_with_replays_gives_the_aggregates_of_one_ordered_ingest(
    historian_pair: tuple[Historian, Historian],
    history: tuple[list[Sample], list[list[Sample]]],
) -> None:
    ordered, batches = history
    once, shuffled = historian_pair
    wipe(once)
    wipe(shuffled)
    assert once.ingest(ordered).stored == len(ordered)
    results = [shuffled.ingest(batch) for batch in batches]
    assert sum(r.stored for r in results) == len(ordered)
    assert sum(r.duplicates for r in results) == sum(map(len, batches)) - len(ordered)
    assert dump(once, "hist_samples") == dump(shuffled, "hist_samples")
    for table in ("hist_agg_1m", "hist_agg_1h"):
        assert _close(dump(once, table), dump(shuffled, table), total_column=3), table
