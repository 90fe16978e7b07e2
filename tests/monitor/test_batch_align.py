"""Alignment of batch trajectories: worked examples for time, maturity and DTW."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.errors import InvalidError
from phactory.monitor.batch.align import (
    MaturityAlignment,
    TimeAlignment,
    fill_forward,
    make_alignment,
    resample,
)
from phactory.monitor.batch.warping import DtwAlignment, warp

GRID = np.linspace(0.0, 1.0, 11)


def test_fill_forward_holds_the_last_value_and_backfills_only_for_training() -> None:
    x = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [4.0, 5.0]])
    running = fill_forward(x, backfill=False)
    assert np.array_equal(
        running, [[np.nan, 1.0], [2.0, 1.0], [2.0, 1.0], [4.0, 5.0]], equal_nan=True
    )
    training = fill_forward(x, backfill=True)
    assert np.array_equal(training, [[2.0, 1.0], [2.0, 1.0], [2.0, 1.0], [4.0, 5.0]])


def test_resample_averages_rows_of_equal_progress() -> None:
    # Progress 0, 0.5, 0.5, 1 -> the two rows at 0.5 (values 2 and 4) average to 3.
    out = resample(np.array([0.0, 0.5, 0.5, 1.0]), np.array([[0.0], [2.0], [4.0], [6.0]]), GRID)
    assert out[5, 0] == pytest.approx(3.0)
    assert out[10, 0] == pytest.approx(6.0)
    assert out[1, 0] == pytest.approx(0.6)  # 0 -> 3 over 0 -> 0.5


def test_time_alignment_own_duration_when_complete_reference_when_running() -> None:
    # Two training batches of 10 h and 20 h (and 30 h): reference = median = 20 h.
    times = [np.linspace(0, d, 5) for d in (10.0, 20.0, 30.0)]
    values = [np.column_stack([t]) for t in times]
    a = TimeAlignment()
    a.fit(times, values, [None] * 3, GRID)
    assert a.reference_h == 20.0
    # The shortest, 10 h of 20 h, less twice the sd of 0.5, 1, 1.5
    assert a.complete_at == pytest.approx(0.5 - 2 * np.std([0.5, 1.0, 1.5]))
    t = np.array([0.0, 2.5, 5.0, 7.5, 10.0])
    whole = a.align(t, t[:, None], None, GRID, complete=True)
    assert np.allclose(whole.progress, [0, 0.25, 0.5, 0.75, 1.0])
    assert whole.trajectory.shape == (11, 1)
    assert whole.trajectory[5, 0] == pytest.approx(5.0)  # half of its own 10 h
    running = a.align(t, t[:, None], None, GRID, complete=False)
    assert np.allclose(running.progress, t / 20.0)
    assert running.trajectory.shape == (6, 1)  # grid points 0 .. 0.5
    assert a.running_end(t, t[:, None], None, GRID) == pytest.approx(0.5)
    long = a.align(np.array([0.0, 10.0, 30.0]), np.zeros((3, 1)), None, GRID, complete=False)
    assert long.progress[-1] == 1.0  # past the reference: at its end


def test_maturity_alignment_uses_the_cumulative_maximum() -> None:
    # A conversion measured with noise: 0, 0.3, 0.25 (a dip), 0.6, 1.0 -> 0, .3, .3, .6, 1.
    m = np.array([0.0, 0.3, 0.25, 0.6, 1.0])
    x = np.array([[0.0], [1.0], [3.0], [4.0], [8.0]])
    a = MaturityAlignment("conv")
    a.fit([np.arange(5.0)] * 2, [x, x], [m, 2 * m], GRID)
    assert a.reference == pytest.approx(1.5)  # median of the increases 1 and 2
    al = a.align(np.arange(5.0), x, m, GRID, complete=True)
    assert np.allclose(al.progress, [0, 0.3, 0.3, 0.6, 1.0])
    # The two rows at 0.3 average to 2: at grid 0.3 the trajectory is 2.
    assert al.trajectory[3, 0] == pytest.approx(2.0)
    run = a.align(np.arange(3.0), x[:3], m[:3], GRID, complete=False)
    assert np.allclose(run.progress, [0, 0.2, 0.2])  # 0.3 of a reference of 1.5
    assert run.trajectory.shape == (3, 1)


def test_make_alignment_refuses_unknown_names() -> None:
    assert isinstance(make_alignment("maturity:ivcd"), MaturityAlignment)
    for bad in ("maturity:", "warp", ""):
        with pytest.raises(InvalidError, match="unknown alignment"):
            make_alignment(bad)


def _warped_batches(n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two-variable batches whose shape runs on a clock sped up or slowed down in the
    middle: the same process at another pace."""
    out = []
    for _ in range(n):
        m = int(rng.integers(60, 90))
        u = np.linspace(0, 1, m)
        bend = rng.uniform(-0.15, 0.15)
        s = np.clip(u + bend * np.sin(np.pi * u), 0, 1)  # the true progress, monotone
        x = np.column_stack([np.sin(np.pi * s), s**2]) + 0.01 * rng.standard_normal((m, 2))
        out.append((s, x))
    return out


def test_dtw_gives_rows_at_the_same_stage_the_same_progress() -> None:
    rng = np.random.default_rng(3)
    batches = _warped_batches(8, rng)
    grid = np.linspace(0, 1, 50)
    a = DtwAlignment()
    times = [np.arange(x.shape[0], dtype=float) for _, x in batches]
    a.fit(times, [x for _, x in batches], [None] * 8, grid)
    # Two new batches, warped differently: at the same true stage s, DTW progress agrees
    # (it is measured on the reference's clock, so it is a function of s alone), plain
    # elapsed time does not.
    stages = np.linspace(0.05, 0.95, 19)
    dtw_at, time_at = [], []
    for seed in (11, 12):
        s, x = _warped_batches(1, np.random.default_rng(seed))[0]
        al = a.align(np.arange(x.shape[0], dtype=float), x, None, grid, complete=True)
        assert al.trajectory.shape == (50, 2)
        dtw_at.append(np.interp(stages, s, al.progress))
        time_at.append(np.interp(stages, s, np.linspace(0, 1, s.size)))
    assert np.max(np.abs(dtw_at[0] - dtw_at[1])) < 0.05
    assert np.max(np.abs(time_at[0] - time_at[1])) > 0.1
    # Running: the first 60 % of a batch's rows end where the complete batch had them.
    s, x = _warped_batches(1, np.random.default_rng(11))[0]
    whole = a.align(np.arange(x.shape[0], dtype=float), x, None, grid, complete=True)
    k = int(0.6 * x.shape[0])
    run = a.align(np.arange(k, dtype=float), x[:k], None, grid, complete=False)
    assert run.progress[-1] == pytest.approx(whole.progress[k - 1], abs=0.05)
    assert run.trajectory.shape[0] == pytest.approx(whole.progress[k - 1] * 49 + 1, abs=3)


def test_warp_path_of_a_known_warp() -> None:
    # Rows 0, 0, 1, 2, 3 against reference 0, 1, 2, 3: the first two rows share point 0.
    rows = np.array([[0.0], [0.0], [1.0], [2.0], [3.0]])
    ref = np.array([[0.0], [1.0], [2.0], [3.0]])
    path, end = warp(rows, ref, open_end=False)
    assert end == 3
    assert path.tolist() == [[0, 0], [1, 0], [2, 1], [3, 2], [4, 3]]
    path, end = warp(rows[:3], ref, open_end=True)
    assert end == 1 and path.tolist() == [[0, 0], [1, 0], [2, 1]]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1.0, 5.0), min_size=3, max_size=30),
    st.booleans(),
)
def test_maturity_progress_is_monotone_within_0_and_1(steps: list[float], complete: bool) -> None:
    m = np.cumsum(np.asarray(steps))  # noisy: may go down
    a = MaturityAlignment("m", reference=10.0)
    al = a.align(np.arange(m.size, dtype=float), np.zeros((m.size, 1)), m, GRID, complete=complete)
    assert np.all(np.diff(al.progress) >= 0)
    assert al.progress[0] == 0.0 and np.all(al.progress <= 1.0)
    assert al.trajectory.shape[0] == int(np.sum(al.progress[-1] + 1e-9 >= GRID))
