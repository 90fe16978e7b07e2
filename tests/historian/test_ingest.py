"""Ingest: samples stored once, every kind of value kept, bad input refused whole."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from phactory.errors import InvalidError, NotFoundError
from phactory.historian import Historian, IngestResult, Sample

from .conftest import at, dump, us

TAG = "mab/usp/cell1/BR1/temp"
MINUTE = dt.timedelta(minutes=1)


def test_a_replay_is_stored_once_and_counted_as_duplicates(historian: Historian) -> None:
    live = [Sample(TAG, us(i), float(i), seq=i, source="edge-1") for i in range(100)]
    assert historian.ingest(live) == IngestResult(100, 0, 0)
    replay = [Sample(s.tag, s.t_us, s.value, s.seq, "edge-1", historical=True) for s in live[50:]]
    assert historian.ingest([*replay, Sample(TAG, us(100), 100.0, 100)]) == IngestResult(1, 50, 0)
    raw = historian.query(TAG, at(0), at(200))
    assert raw["seq"].tolist() == list(range(101))
    assert not raw["historical"].any()
    assert historian.query(TAG, at(0), at(120), every=MINUTE, agg="count")[TAG].tolist() == [60, 41]


def test_duplicates_within_one_call_are_stored_once(historian: Historian) -> None:
    s = Sample(TAG, us(1), 1.0, seq=7)
    assert historian.ingest([s, s, s]) == IngestResult(1, 2, 0)
    assert historian.query(TAG, at(0), at(60), every=MINUTE, agg="count")[TAG].tolist() == [1]


def test_same_time_other_number_is_another_sample(historian: Historian) -> None:
    result = historian.ingest([Sample(TAG, us(1), 1.0, seq=1), Sample(TAG, us(1), 3.0, seq=2)])
    assert result.stored == 2
    assert historian.query(TAG, at(0), at(60), every=MINUTE)[TAG].tolist() == [2.0]


def test_historical_flag_quality_and_source_are_kept(historian: Historian) -> None:
    historian.ingest(
        [
            Sample(TAG, us(1), 1.5, 1, source="edge-1", quality="uncertain", historical=True),
            Sample(TAG, us(2), 2.5, 2, source="edge-2", quality="bad"),
        ]
    )
    raw = historian.query(TAG, at(0), at(60))
    assert raw[["value", "quality", "seq", "source", "historical"]].values.tolist() == [
        [1.5, "uncertain", 1, "edge-1", True],
        [2.5, "bad", 2, "edge-2", False],
    ]
    # Uncertain is aggregated, bad is not (OPC UA Part 13).
    assert historian.query(TAG, at(0), at(60), every=MINUTE)[TAG].tolist() == [1.5]


def test_booleans_are_zero_and_one(historian: Historian) -> None:
    tag = "mab/usp/cell1/BR1/running"
    historian.ingest([Sample(tag, us(i), i % 4 != 0, i) for i in range(8)])
    assert historian.query(tag, at(0), at(8))["value"].tolist() == [0, 1, 1, 1, 0, 1, 1, 1]
    assert historian.query(tag, at(0), at(60), every=MINUTE)[tag].tolist() == [0.75]


def test_text_is_kept_not_aggregated(historian: Historian) -> None:
    tag = "mab/usp/cell1/BR1/phase"
    historian.ingest([Sample(tag, us(1), "Running", 1), Sample(tag, us(2), "Held <b>", 2)])
    raw = historian.query(tag, at(0), at(60))
    assert raw["value"].tolist() == ["Running", "Held <b>"]
    assert math.isnan(historian.query(tag, at(0), at(60), every=MINUTE, agg="last")[tag].iloc[0])
    assert historian.query(tag, at(0), at(60), every=MINUTE, agg="count")[tag].tolist() == [0]


def test_a_number_that_is_not_finite_is_kept_as_no_value(historian: Historian) -> None:
    historian.ingest(
        [
            Sample(TAG, us(1), math.nan, 1),
            Sample(TAG, us(2), math.inf, 2),
            Sample(TAG, us(3), 4.0, 3),
        ]
    )
    raw = historian.query(TAG, at(0), at(60))
    assert raw["seq"].tolist() == [1, 2, 3]
    assert math.isnan(raw["value"].iloc[0]) and math.isnan(raw["value"].iloc[1])
    assert historian.query(TAG, at(0), at(60), every=MINUTE, agg="count")[TAG].tolist() == [1]


def test_times_before_1970_fall_in_their_own_buckets(historian: Historian) -> None:
    # -90 s and -30 s after the epoch: minute buckets at -120 s and -60 s (floor, not
    # truncation toward zero).
    historian.ingest([Sample(TAG, -90_000_000, 1.0, 1), Sample(TAG, -30_000_000, 2.0, 2)])
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    means = historian.query(TAG, epoch - dt.timedelta(minutes=2), epoch, every=MINUTE)
    assert means[TAG].tolist() == [1.0, 2.0]
    assert [t.second for t in means.index] == [0, 0]


def test_a_new_tag_takes_the_unit_of_its_first_sample(historian: Historian) -> None:
    historian.ingest(
        [Sample(TAG, us(1), 1.0, 1, unit="degC"), Sample(TAG, us(2), 1.0, 2, unit="K")]
    )
    assert [(m.name, m.unit) for m in historian.tags()] == [(TAG, "degC")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tag": ""}, "tag name"),
        ({"tag": "a/b\n"}, "control characters"),
        ({"t_us": 1.5}, "t_us must be an integer"),
        ({"t_us": True}, "t_us must be an integer"),
        ({"seq": -1}, "seq must be an integer >= 0"),
        ({"quality": "ok"}, "quality must be good, uncertain or bad"),
        ({"value": None}, "value must be a number, a bool or text"),
        ({"value": [1]}, "value must be a number, a bool or text"),
        ({"value": "a\x00b"}, "no NUL"),
        ({"source": 3}, "source must be text"),
    ],
)
def test_a_malformed_sample_refuses_the_whole_call_naming_it(
    historian: Historian, change: dict[str, Any], message: str
) -> None:
    good = Sample(TAG, us(1), 1.0, 1)
    fields = {"tag": TAG, "t_us": us(2), "value": 2.0, "seq": 2, "source": "", "quality": "good"}
    bad = Sample(**{**fields, **change})
    with pytest.raises(InvalidError, match=message) as caught:
        historian.ingest([good, bad])
    assert "sample 1" in str(caught.value) and "nothing was stored" in str(caught.value)
    assert dump(historian, "hist_samples") == []


def test_a_new_tags_unit_is_checked_again_after_a_refused_call(historian: Historian) -> None:
    with pytest.raises(InvalidError, match="seq must be"):
        historian.ingest([Sample(TAG, us(1), 1.0, -1)])
    with pytest.raises(InvalidError, match="unit must be text of at most 200"):
        historian.ingest([Sample(TAG, us(1), 1.0, 1, unit="x" * 201)])
    assert historian.tags() == []


def test_not_a_sample_is_refused(historian: Historian) -> None:
    with pytest.raises(InvalidError, match="expected a Sample, not dict"):
        historian.ingest([{"tag": TAG}])  # type: ignore[list-item]


def test_an_empty_call_stores_nothing(historian: Historian) -> None:
    assert historian.ingest([]) == IngestResult(0, 0, 0)


def test_a_generator_is_ingested(historian: Historian) -> None:
    result = historian.ingest(Sample(TAG, us(i), float(i), i) for i in range(25_000))
    assert result == IngestResult(25_000, 0, 0)  # three chunks of the staging table
    count = historian.query(TAG, at(0), at(25_000), every=dt.timedelta(hours=7), agg="count")
    assert count[TAG].sum() == 25_000


def test_threads_ingest_and_read_at_once(historian: Historian) -> None:
    # The MQTT subscriber ingests on its thread while the web app reads on others: each
    # thread has its own connection; writers take turns.
    import threading

    errors: list[BaseException] = []

    def write(part: int) -> None:
        try:
            for k in range(5):
                base = part * 10_000 + k * 500
                historian.ingest(Sample(TAG, us(base + i), 1.0, base + i) for i in range(500))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(10):
                historian.query(TAG, at(0), at(40_000), every=dt.timedelta(hours=1), agg="count")
        except NotFoundError:
            pass  # read before the first write committed
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in range(3)]
    threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    count = historian.query(TAG, at(0), at(40_000), every=dt.timedelta(hours=12), agg="count")
    assert count[TAG].sum() == 3 * 5 * 500
