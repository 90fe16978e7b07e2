"""Batches read from a monitoring CSV: grouping, time, and refusals naming FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.errors import InvalidError
from phactory.monitor.batch import batches_from_table
from phactory.monitor.batch.trajectory import quality_from_rows, quality_from_table
from phactory.monitor.table import Table, read_table


def _table(tmp_path: Path, text: str, *, named: tuple[str, ...] = ()) -> Table:
    path = tmp_path / "b.csv"
    path.write_text(text)
    return read_table(path, named=("batch", "t", *named))


def test_batches_grouped_in_file_order_sorted_by_time(tmp_path: Path) -> None:
    table = _table(
        tmp_path,
        "batch,t,x\nB2,1,10\nB1,0,1\nB2,0,9\nB1,2,3\nB1,1,2\nB2,2.5,11\n",
    )
    got = batches_from_table(table, "batch", "t")
    assert [b.id for b in got] == ["B2", "B1"]
    b2, b1 = got
    assert b2.time.tolist() == [0.0, 1.0, 2.5]
    assert b2.values[:, 0].tolist() == [9.0, 10.0, 11.0]
    assert b1.lines.tolist() == [3, 6, 5]  # file lines of t = 0, 1, 2
    assert b1.variables == ("x",) and b1.duration == 2.0


def test_times_are_hours_since_the_first_row(tmp_path: Path) -> None:
    table = _table(
        tmp_path,
        "batch,t,x\nA,2025-03-01T08:00:00+01:00,1\nA,2025-03-01T07:30:00Z,2\n"
        "A,2025-03-01T10:00:00,3\n",
    )
    (a,) = batches_from_table(table, "batch", "t")
    # 07:00Z, 07:30Z, 10:00Z (no offset: UTC) -> 0, 0.5, 3 h
    assert a.time.tolist() == [0.0, 0.5, 3.0]
    assert a.values[:, 0].tolist() == [1.0, 2.0, 3.0]
    minutes = _table(tmp_path, "batch,t,x\nA,30,1\nA,60,2\nA,120,3\n")
    (m,) = batches_from_table(minutes, "batch", "t", time_unit="min")
    assert m.time.tolist() == [0.0, 0.5, 1.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "batch,t,x\nA,0,1\nA,1,2\nA,1,3\n",
            r"b.csv:4 column 't': batch 'A' has the time 1 twice \(also on line 3\)",
        ),
        (
            "batch,t,x\nA,0,1\nA,1,2\nB,0,1\nB,1,1\nB,2,1\n",
            r"b.csv:2 column 'batch': batch 'A' has 2 row\(s\)",
        ),
        ("batch,t,x\nA,0,1\nA,,2\nA,2,3\n", r"b.csv:3 column 't': the time is empty"),
        ("batch,t,x\nA,0,1\n,1,2\nA,2,3\n", r"b.csv:3 column 'batch': the batch id is empty"),
        ("batch,t,x\nA,0,1\nA,noon,2\nA,2,3\n", r"b.csv:3 column 't': 'noon' is not a number"),
        (
            "batch,t,x\nA,2025-01-01,1\nA,soon,2\nA,2025-01-02,3\n",
            r"b.csv:3 column 't': 'soon' is neither",
        ),
    ],
)
def test_malformed_batches_are_refused_naming_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InvalidError, match=message):
        batches_from_table(_table(tmp_path, text), "batch", "t")


def test_a_missing_column_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("batch,time,x\nA,0,1\n")
    with pytest.raises(InvalidError, match=r"b.csv:1: no column 't'"):
        read_table(path, named=("batch", "t"))


def test_quality_from_the_batch_file_and_from_a_file_of_its_own(tmp_path: Path) -> None:
    table = _table(
        tmp_path,
        "batch,t,x,q\nA,0,1,5\nA,1,2,5\nA,2,3,5\nB,0,1,\nB,1,1,7\nB,2,1,\n",
        named=("q",),
    )
    batches = batches_from_table(table, "batch", "t")
    assert batches[0].variables == ("x",)  # a quality column is not a variable
    q = quality_from_table(table, "batch", batches, ["q"])
    assert q.tolist() == [[5.0], [7.0]]
    bad = _table(tmp_path, "batch,t,x,q\nA,0,1,5\nA,1,2,6\nA,2,3,5\n", named=("q",))
    with pytest.raises(InvalidError, match=r"b.csv:3 column 'q': final quality 'q' differs"):
        quality_from_table(bad, "batch", batches_from_table(bad, "batch", "t"), ["q"])
    qpath = tmp_path / "q.csv"
    qpath.write_text("batch,titer,note\nB,2.5,ok\nA,3.0,ok\n")
    names, values = quality_from_rows(read_table(qpath, named=("batch",)), "batch", batches)
    assert names == ("titer",) and values.tolist() == [[3.0], [2.5]]
    qpath.write_text("batch,titer\nA,3.0\n")
    with pytest.raises(InvalidError, match=r"q.csv: no row for batch 'B'"):
        quality_from_rows(read_table(qpath, named=("batch",)), "batch", batches)
    qpath.write_text("batch,titer\nA,3.0\nB,1\nA,2\n")
    with pytest.raises(InvalidError, match=r"q.csv:4 column 'batch': batch 'A' again"):
        quality_from_rows(read_table(qpath, named=("batch",)), "batch", batches)
    assert np.isfinite(values).all()


def test_the_first_batch_in_the_file_with_a_problem_is_named(tmp_path: Path) -> None:
    # A (first) repeats a time, B (second) is too short: A is named, and the other way round.
    text = "batch,t,x\nA,0,1\nB,0,1\nA,1,2\nA,1,3\n"
    with pytest.raises(InvalidError, match=r"b.csv:5 column 't': batch 'A' has the time 1"):
        batches_from_table(_table(tmp_path, text), "batch", "t")
    text = "batch,t,x\nB,0,1\nA,0,1\nA,1,2\nA,1,3\n"
    with pytest.raises(InvalidError, match=r"b.csv:2 column 'batch': batch 'B' has 1 row"):
        batches_from_table(_table(tmp_path, text), "batch", "t")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["P", "Q", "R"]), st.integers(0, 50)),
        min_size=1,
        max_size=30,
        unique=True,
    )
)
def test_each_batch_holds_its_rows_sorted_by_time(
    tmp_path: Path, rows: list[tuple[str, int]]
) -> None:
    text = "batch,t,x\n" + "".join(f"{b},{t},{i}\n" for i, (b, t) in enumerate(rows))
    got = batches_from_table(_table(tmp_path, text), "batch", "t", min_rows=1)
    assert [b.id for b in got] == list(dict.fromkeys(b for b, _ in rows))
    for batch in got:
        mine = sorted((t, i) for i, (b, t) in enumerate(rows) if b == batch.id)
        assert batch.values[:, 0].tolist() == [float(i) for _, i in mine]
        assert batch.lines.tolist() == [i + 2 for _, i in mine]
        assert batch.time.tolist() == [float(t - mine[0][0]) for t, _ in mine]
