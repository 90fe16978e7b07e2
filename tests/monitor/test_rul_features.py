"""Window features, regimes, the RUL target, grouping and conformal quantiles: worked
examples computed by hand, and invariants."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from phactory.errors import InvalidError
from phactory.monitor.rul.conformal import band_margins, grouped_split, pooled_quantile
from phactory.monitor.rul.features import drop_constant, fit_regimes, window_features
from phactory.monitor.rul.units import group_units, unit_key
from phactory.monitor.table import Table, read_table


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    # OpenMP threads spin while waiting: on shared CI cores one thread is faster.
    import sklearn.ensemble  # noqa: F401  (limits apply to the libraries loaded)

    with threadpool_limits(limits=1):
        yield


def test_window_features_by_hand() -> None:
    # One unit, x = 2 t + 1 at t = 0, 1, 2, 4; window of 3 rows.
    t = np.array([0.0, 1.0, 2.0, 4.0])
    x = (2 * t + 1)[:, None]
    F = window_features(x, t, np.zeros(4, dtype=np.int64), 3, age=True)
    assert F[:, 0].tolist() == [1.0, 3.0, 5.0, 9.0]  # current value
    assert F[:, 1].tolist() == [1.0, 2.0, 3.0, pytest.approx(17 / 3)]  # mean of <= 3 rows
    assert F[:, 2].tolist() == [0.0, pytest.approx(2.0), pytest.approx(2.0), pytest.approx(2.0)]
    # Population std of {3, 5, 9}: sqrt(((3-17/3)^2 + (5-17/3)^2 + (9-17/3)^2) / 3).
    assert F[3, 3] == pytest.approx(
        np.sqrt(((3 - 17 / 3) ** 2 + (5 - 17 / 3) ** 2 + (9 - 17 / 3) ** 2) / 3)
    )
    assert F[0, 3] == 0.0
    assert F[:, 4].tolist() == [0.0, 1.0, 2.0, 4.0]  # age


def test_missing_values_are_left_out_of_the_window() -> None:
    t = np.arange(4.0)
    x = np.array([[1.0], [np.nan], [3.0], [5.0]])
    F = window_features(x, t, np.zeros(4, dtype=np.int64), 4, age=False)
    assert np.isnan(F[1, 0])  # the current value stays missing
    assert F[3, 1] == pytest.approx(3.0)  # mean of 1, 3, 5
    # Least squares through (0, 1), (2, 3), (3, 5): t mean 5/3, x mean 3, slope
    # sum(dt dx) / sum(dt^2) = 6 / (14/3) = 9/7.
    assert F[3, 2] == pytest.approx(9 / 7, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=2, max_size=5),
    window=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_a_unit_s_features_do_not_depend_on_other_units(
    sizes: list[int], window: int, seed: int
) -> None:
    """No window reaches into the previous unit's rows (no leakage across units)."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    x = rng.normal(size=(n, 2))
    t = np.concatenate([np.sort(rng.uniform(0, 100, s)) + 0.0 for s in sizes])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    row_start = np.repeat(starts[:-1], sizes)
    together = window_features(x, t, row_start, window, age=True)
    for a, b in itertools.pairwise(starts):
        alone = window_features(x[a:b], t[a:b], np.zeros(b - a, dtype=np.int64), window, age=True)
        assert np.array_equal(together[a:b], alone)


def test_regimes_remove_the_operating_condition() -> None:
    rng = np.random.default_rng(0)
    cond = np.array([[0.0, 0.0], [10.0, 0.5], [20.0, 0.9]])
    lab = rng.integers(0, 3, 900)
    settings_ = cond[lab] + rng.normal(0, 0.001, (900, 2))
    offsets = np.array([[100.0, -5.0], [300.0, 0.0], [500.0, 5.0]])
    sensors = offsets[lab] + rng.normal(0, 1.0, (900, 2))
    regimes = fit_regimes(settings_, sensors, None, seed=0)
    assert regimes.k == 3
    z = regimes.normalise(sensors, settings_)
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-9) and np.allclose(
        z.std(axis=0), 1.0, atol=0.05
    )
    # Settings that only jitter around one point are one regime.
    one = fit_regimes(rng.normal(0, 0.001, (500, 2)), sensors[:500], None, seed=0)
    assert one.k == 1


def test_constant_columns_are_dropped_and_named() -> None:
    values = np.column_stack([np.full(5, 2.5), np.arange(5.0), np.full(5, np.nan)])
    keep, dropped = drop_constant(values, ["c", "x", "empty"])
    assert keep == [1] and dropped == ["c", "empty"]


def test_pooled_quantile_weighs_units_not_rows() -> None:
    # Unit 0 has 1 row (score 10); units 1..9 have 100 rows each of score 1. By rows the
    # 10 would be a 0.1% outlier; by units it is a tenth of the mass: the 95% level
    # (0.9 * (1 + 1/10) = 0.99) needs it.
    scores = np.concatenate([[10.0], np.ones(900)])
    groups = np.concatenate([[0], np.repeat(np.arange(1, 10), 100)])
    assert pooled_quantile(scores, groups, 0.9) == 10.0
    assert pooled_quantile(scores, groups, 0.8) == 1.0  # 0.88 < 0.9 of the mass is at 1
    # Too few units for the level: unbounded.
    assert pooled_quantile(np.ones(4), np.arange(4), 0.9) == np.inf


def test_band_margins_by_predicted_rul() -> None:
    point = np.repeat([10.0, 100.0], 50)
    scores = np.where(point < 50, 1.0, 7.0)
    groups = np.tile(np.arange(50), 2)
    m = band_margins(scores, groups, point, 0.5, bands=2)
    assert m.margin(np.array([5.0, 200.0])).tolist() == [1.0, 7.0]


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 300), frac=st.floats(0.05, 0.95), seed=st.integers(0, 10_000))
def test_grouped_split_partitions_the_units(n: int, frac: float, seed: int) -> None:
    proper, calib = grouped_split(n, frac, seed)
    assert proper.size >= 1 and calib.size >= 1
    assert sorted([*proper.tolist(), *calib.tolist()]) == list(range(n))


def _table(tmp_path: Path, text: str) -> Table:
    path = tmp_path / "train.csv"
    path.write_text(text)
    return read_table(path, named=("unit", "t"))


def test_grouping_refuses_time_going_back_naming_both_lines(tmp_path: Path) -> None:
    table = _table(tmp_path, "unit,t,x\nA,1,1\nB,1,2\nA,3,1\nA,2,5\n")
    with pytest.raises(InvalidError, match=r"train.csv:5 column 't'.*unit 'A'.*line 4"):
        group_units(table, "unit", "t")


def test_grouping_refuses_a_one_row_unit_for_training(tmp_path: Path) -> None:
    table = _table(tmp_path, "unit,t,x\nA,1,1\nA,2,1\nB,7,2\n")
    with pytest.raises(InvalidError, match=r"train.csv:4 column 'unit'.*'B' has 1 row"):
        group_units(table, "unit", "t", min_rows=2)
    assert group_units(table, "unit", "t").ids == ("A", "B")


def test_grouping_refuses_empty_ids_and_bad_times(tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match=r"train.csv:3 column 'unit'.*empty"):
        group_units(_table(tmp_path, "unit,t,x\nA,1,1\n,2,1\n"), "unit", "t")
    with pytest.raises(InvalidError, match=r"train.csv:3 column 't'.*'soon'"):
        group_units(_table(tmp_path, "unit,t,x\nA,1,1\nA,soon,1\n"), "unit", "t")


def test_timestamps_are_hours() -> None:
    frame = pd.DataFrame(
        {"unit": ["a", "a"], "t": ["2026-01-01T00:00:00Z", "2026-01-01T06:30:00Z"], "x": [1, 2]}
    )
    units = group_units(Table.from_frame(frame, ("unit", "t")), "unit", "t")
    assert units.time_kind == "datetime"
    assert units.time[1] - units.time[0] == pytest.approx(6.5)


def test_unit_keys_match_across_files() -> None:
    assert unit_key(" 7 ") == unit_key("7.0") == "7"
    assert unit_key("M07") == "M07"
