"""Queries: the shapes of raw and aggregated answers, and every refusal named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from phactory.errors import InvalidError, NotFoundError
from phactory.historian import RAW_COLUMNS, Historian, Sample, read_historian
from phactory.historian.query import MAX_STEPS

from .conftest import at, us

X, Y = "site/area/cell/U1/x", "site/area/cell/U1/y"
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def filled(historian: Historian) -> Historian:
    """x every 10 s for 3 minutes (value = seconds), y every 30 s (value = -seconds)."""
    historian.ingest([Sample(X, us(t), float(t), t) for t in range(0, 180, 10)])
    historian.ingest([Sample(Y, us(t), -float(t), t) for t in range(0, 180, 30)])
    return historian


def test_raw_answer_is_long_in_time_then_tag_order(filled: Historian) -> None:
    raw = filled.query([Y, X], at(0), at(30))
    assert tuple(raw.columns) == RAW_COLUMNS
    assert str(raw["time"].dtype).startswith("datetime64") and str(raw["time"].dt.tz) == "UTC"
    assert list(zip(raw["time"], raw["tag"], raw["value"], strict=True)) == [
        (at(0), Y, -0.0),
        (at(0), X, 0.0),
        (at(10), X, 10.0),
        (at(20), X, 20.0),
    ]


def test_raw_range_is_half_open(filled: Historian) -> None:
    assert filled.query(X, at(10), at(30))["value"].tolist() == [10.0, 20.0]


def test_raw_answer_of_nothing_has_the_columns(filled: Historian) -> None:
    raw = filled.query(X, at(1000), at(2000))
    assert tuple(raw.columns) == RAW_COLUMNS and raw.empty


def test_aggregated_answer_is_a_grid_with_a_column_per_tag(filled: Historian) -> None:
    means = filled.query([X, Y], at(0), at(180), every=MINUTE)
    assert list(means.columns) == [X, Y]
    assert means.index.name == "time" and str(means.index.tz) == "UTC"
    assert list(means.index) == [at(0), at(60), at(120)]
    assert means[X].tolist() == [25.0, 85.0, 145.0]
    assert means[Y].tolist() == [-15.0, -75.0, -135.0]


def test_grid_is_aligned_to_the_epoch_and_covers_the_range(filled: Historian) -> None:
    got = filled.query(X, at(45), at(125), every=MINUTE, agg="count")
    # steps [0, 60) ∩ [45, 125): 50; [60, 120): 6 samples; [120, 125): 120.
    assert list(got.index) == [at(0), at(60), at(120)]
    assert got[X].tolist() == [1, 6, 1]
    assert got[X].dtype == "int64"


def test_unknown_tags_are_named(filled: Historian) -> None:
    with pytest.raises(NotFoundError, match="'nope/a', 'nope/b'"):
        filled.query([X, "nope/a", "nope/b"], at(0), at(10))
    with pytest.raises(NotFoundError, match="'nope/a'"):
        filled.query("nope/a", at(0), at(10), every=MINUTE)


@pytest.mark.parametrize(
    ("start", "end", "every", "agg", "message"),
    [
        (at(10), at(10), None, "mean", "must be before end"),
        (at(20), at(10), MINUTE, "mean", "must be before end"),
        (dt.datetime(2025, 3, 1), at(10), None, "mean", "has no timezone"),
        (at(0), dt.datetime(2025, 3, 2), MINUTE, "mean", "has no timezone"),
        (at(0), at(10), dt.timedelta(0), "mean", "positive duration"),
        (at(0), at(10), dt.timedelta(seconds=-1), "mean", "positive duration"),
        (at(0), at(10), MINUTE, "median", "agg must be one of mean, min"),
        (at(0), at(10), "1min", "mean", "every must be a timedelta"),
    ],
)
def test_bad_ranges_steps_and_aggregates_are_refused(
    filled: Historian, start: dt.datetime, end: dt.datetime, every: object, agg: str, message: str
) -> None:
    with pytest.raises(InvalidError, match=message):
        filled.query(X, start, end, every=every, agg=agg)  # type: ignore[arg-type]


def test_a_grid_too_large_is_refused(filled: Historian) -> None:
    with pytest.raises(InvalidError, match=f"more than {MAX_STEPS} values"):
        filled.query(X, at(0), at(10 * MAX_STEPS), every=dt.timedelta(seconds=1))


def test_a_raw_answer_over_max_rows_is_refused(filled: Historian) -> None:
    assert len(filled.query(X, at(0), at(180), max_rows=18)) == 18
    with pytest.raises(InvalidError, match="more than 17 samples"):
        filled.query(X, at(0), at(180), max_rows=17)


def test_read_historian_is_one_call(filled: Historian, historian_url: str) -> None:
    means = read_historian(
        [X], "2025-03-01T00:00:00Z", "2025-03-01T00:03", "1min", url=historian_url
    )
    assert means[X].tolist() == [25.0, 85.0, 145.0]
    raw = read_historian(X, at(0), at(20), url=historian_url)
    assert isinstance(raw, pd.DataFrame) and raw["value"].tolist() == [0.0, 10.0]


def test_read_historian_reads_the_environment(
    filled: Historian, historian_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHACTORY_HISTORIAN_URL", historian_url)
    assert len(read_historian(X, at(0), at(20))) == 2
    monkeypatch.delenv("PHACTORY_HISTORIAN_URL")
    with pytest.raises(InvalidError, match="name the historian"):
        read_historian(X, at(0), at(20))


def test_read_historian_takes_a_path(tmp_path: Path) -> None:
    from phactory.historian import open_historian

    with open_historian(path=tmp_path / "h.sqlite") as h:
        h.ingest([Sample(X, us(1), 1.0, 1)])
    assert read_historian(X, at(0), at(10), path=tmp_path / "h.sqlite")["value"].tolist() == [1.0]
