"""The CSV contract of the monitoring commands (``phactory.monitor.table``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from phactory.errors import InvalidError, NotFoundError
from phactory.monitor.table import Table, group_rows, read_table, refuse_nonfinite, time_hours


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_numeric_columns_are_variables_and_text_is_ignored(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "time,T1,label,P2\n2025-01-01T00:00Z,1.5,ok,10\n2025-01-01T00:01Z,2.5,ok,11\n",
    )
    plain = read_table(path)
    assert plain.variables == ("T1", "P2")
    assert plain.ignored == ("time", "label")
    np.testing.assert_array_equal(plain.values, [[1.5, 10.0], [2.5, 11.0]])
    named = read_table(path, named=["time"], exclude=["P2"])
    assert named.variables == ("T1",)
    assert named.extra_values("time").tolist() == ["2025-01-01T00:00Z", "2025-01-01T00:01Z"]
    assert named.ignored == ("label",)


def test_a_numeric_time_column_is_a_variable_unless_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "t,a,b\n0,1,2\n10,3,5\n")
    assert read_table(path).variables == ("t", "a", "b")
    assert read_table(path, named=["t"]).variables == ("a", "b")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        read_table(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("a,b\n", "no data rows"),
        ("a,a\n1,2\n", "the header names 'a' twice"),
        ("a,,c\n1,2,3\n", r"column\(s\) \[2\] have no name"),
        ("label\nx\ny\n", "no numeric column"),
        ("a,b\n1,2\n3,4,5\n", "data.csv"),
        ("a,b\n1,2\n3,inf\n", r"data.csv:3: column 'b' is infinite"),
    ],
)
def test_malformed_files_are_refused_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidError, match=message) as err:
        read_table(path)
    assert str(path) in str(err.value)


def test_a_bad_number_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},{i * 0.5}" for i in range(20))
    path = _write(tmp_path, f"a,b\n{rows}\n")
    text = path.read_text().replace("\n7,3.5\n", "\n7,3.5.1\n")
    path.write_text(text)
    with pytest.raises(InvalidError) as err:
        read_table(path)
    assert "column 'b'" in str(err.value)
    assert "line 9: '3.5.1'" in str(err.value)  # data row 7 is file line 9


def test_a_mostly_text_column_is_ignored_not_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "a,id\n1,A-1\n2,B-2\n3,7\n")
    table = read_table(path)
    assert table.variables == ("a",)
    assert table.ignored == ("id",)


def test_unknown_named_or_excluded_columns_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(InvalidError, match=r"data.csv:1: no column 'zz' in the header"):
        read_table(path, exclude=["zz"])
    with pytest.raises(InvalidError, match="no column 'when'"):
        read_table(path, named=["when"])


def test_missing_values_are_nan_and_refused_where_a_method_needs_them(tmp_path: Path) -> None:
    path = _write(tmp_path, "a,b\n1,2\n3,\n5,NA\n7,8\n")
    table = read_table(path)
    assert np.isnan(table.values[1, 1]) and np.isnan(table.values[2, 1])
    with pytest.raises(InvalidError) as err:
        table.require_complete("fitting")
    message = str(err.value)
    assert f"{path}:3 column 'b'" in message and f"{path}:4 column 'b'" in message
    assert message.startswith("fitting needs every value")


def test_columns_of_another_file_must_be_there(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path, "a,b,c\n1,2,3\n"))
    np.testing.assert_array_equal(table.columns(["c", "a"]), [[3.0, 1.0]])
    with pytest.raises(InvalidError, match="'x', 'y' are not numeric columns"):
        table.columns(["a", "x", "y"])


def test_where_names_file_line_and_column() -> None:
    table = Table("f.csv", ("a",), np.zeros((3, 1)))
    assert table.where(0) == "f.csv:2"
    assert table.where(2, "a") == "f.csv:4 column 'a'"
    assert table.n_rows == 3


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.integers(1, 4)),
        elements=st.floats(-1e12, 1e12, allow_nan=False, width=64),
    )
)
def test_numbers_read_back_exactly(tmp_path: Path, values: np.ndarray) -> None:
    # Shortest round-trip text (repr) must read back to the same doubles.
    names = [f"v{j}" for j in range(values.shape[1])]
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in values]
    path = _write(tmp_path, "\n".join(lines) + "\n", "roundtrip.csv")
    table = read_table(path)
    assert table.variables == tuple(names)
    np.testing.assert_array_equal(table.values, values)


def test_numbers_are_read_exactly_and_wide_files_column_by_name(tmp_path: Path) -> None:
    # Spectra: hundreds of columns named by wavelength; every float as written.
    rng = np.random.default_rng(3)
    values = rng.normal(size=(7, 300)) * 10.0 ** rng.integers(-300, 300, size=(7, 300))
    header = ",".join(f"{900 + 0.5 * i}" for i in range(300))
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in values)
    table = read_table(_write(tmp_path, f"{header}\n{body}\n"))
    assert table.variables[:2] == ("900.0", "900.5")
    np.testing.assert_array_equal(table.values, values)


def _named(tmp_path: Path, text: str) -> Table:
    return read_table(_write(tmp_path, text), named=("id", "t"))


def test_rows_are_grouped_by_id_in_order_of_first_appearance(tmp_path: Path) -> None:
    table = _named(tmp_path, "id,t,x\n B ,1,1\nA,1,2\nB,2,3\nC,0,4\nA,5,5\n")
    ids, order, starts = group_rows(table, "id")
    assert ids == ("B", "A", "C")  # " B " and "B" are one id
    assert order.tolist() == [0, 2, 1, 4, 3] and starts.tolist() == [0, 2, 4, 5]
    with pytest.raises(InvalidError, match=r"data.csv:3 column 'id': the unit id is empty"):
        group_rows(_named(tmp_path, "id,t,x\nA,1,1\n ,2,1\n"), "id", what="unit")
    with pytest.raises(InvalidError, match=r"data.csv: column 'x' was not read as a named"):
        group_rows(table, "x")


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.sampled_from(["a", "b", "c", "10", "10.0"]), min_size=1, max_size=40))
def test_grouping_is_a_stable_partition_of_the_rows(ids: list[str]) -> None:
    import pandas as pd

    frame = pd.DataFrame({"id": ids, "x": np.arange(len(ids), dtype=float)})
    got_ids, order, starts = group_rows(Table.from_frame(frame, ("id",)), "id")
    assert got_ids == tuple(dict.fromkeys(ids))
    assert sorted(order.tolist()) == list(range(len(ids)))
    for g, name in enumerate(got_ids):
        rows = order[starts[g] : starts[g + 1]].tolist()
        assert rows == [r for r, i in enumerate(ids) if i == name]


def test_times_are_hours_from_numbers_or_iso_datetimes(tmp_path: Path) -> None:
    numbers = _named(tmp_path, "id,t,x\nA,30,1\nA,90,2\n")
    hours, kind = time_hours(numbers, "t", "min")
    assert kind == "number" and hours.tolist() == [0.5, 1.5]
    assert time_hours(numbers, "t", "d")[0].tolist() == [720.0, 2160.0]
    stamps = _named(tmp_path, "id,t,x\nA,2026-01-01T01:00:00+01:00,1\nA,2026-01-01T06:30Z,2\n")
    epoch, kind = time_hours(stamps, "t")
    new_year = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() / 3600.0
    assert kind == "datetime" and epoch.tolist() == [new_year, new_year + 6.5]
    assert time_hours(stamps, "t", relative=True)[0].tolist() == [0.0, 6.5]
    with pytest.raises(InvalidError, match=r"unknown time unit 'week' \(known: h, min, s, d\)"):
        time_hours(numbers, "t", "week")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A,1,1\nA, ,2\n", r"data.csv:3 column 't': the time is empty"),
        ("A,1,1\nA,inf,2\n", r"data.csv:3 column 't': the time is not finite"),
        ("A,1,1\nA,noon,2\n", r"data.csv:3 column 't': 'noon' is not a number \(the first"),
        ("A,2026-01-01,1\nA,7,2\n", r"data.csv:3 column 't': '7' is neither a number nor an"),
    ],
)
def test_bad_times_are_refused_naming_line_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InvalidError, match=message):
        time_hours(_named(tmp_path, "id,t,x\n" + text), "t")


def test_a_frame_becomes_a_table_with_named_columns_as_text() -> None:
    import pandas as pd

    frame = pd.DataFrame({"unit": [7, 8], "a": [1.5, 2.0], "b": [3, 4]})
    table = Table.from_frame(frame, ("unit",), "gen.csv")
    assert table.variables == ("a", "b") and table.path == "gen.csv"
    np.testing.assert_array_equal(table.values, [[1.5, 3.0], [2.0, 4.0]])
    assert table.extra_values("unit").tolist() == ["7", "8"]


def test_a_nonfinite_value_is_refused_naming_row_and_column() -> None:
    refuse_nonfinite(np.ones((3, 2)), ["a", "b"], "X")
    values = np.ones((4, 2))
    values[2, 1], values[3, 1], values[3, 0] = np.nan, np.inf, np.nan
    with pytest.raises(InvalidError) as err:
        refuse_nonfinite(values, ["a", "b"], "X")
    assert str(err.value) == (
        "X: row 2 column 'b' is not a finite number (rows count from 0; a value of 'b' is "
        "missing or infinite in 2 row(s), 3 value(s) in all); fill or drop them first"
    )
