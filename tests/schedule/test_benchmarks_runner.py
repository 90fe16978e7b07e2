"""Benchmark rows: gap arithmetic, catalog lookup of user files, and the checked results."""

from __future__ import annotations

from pathlib import Path

from phactory.schedule.benchmarks import SolveResult, mean_gap, run_entries, run_file, suite
from phactory.schedule.benchmarks.runner import BenchRow, row_for


def _result(makespan: int | None, bound: int = 50) -> SolveResult:
    return SolveResult("x", "feasible", makespan, bound, 1.234, None)


def test_gap_is_in_percent_and_null_without_bks_or_schedule() -> None:
    assert row_for(_result(110), 100)["gap_to_bks"] == 10.0
    assert row_for(_result(110), None)["gap_to_bks"] is None
    assert row_for(_result(None), 100)["gap_to_bks"] is None
    assert row_for(_result(110), 100)["seconds"] == 1.23


def test_mean_gap_skips_missing_values() -> None:
    rows = [row_for(_result(m), 100) for m in (100, 104)] + [row_for(_result(None), 100)]
    assert mean_gap(rows) == 2.0
    assert mean_gap([]) is None


def test_run_entries_reports_each_instance_with_its_bks() -> None:
    seen: list[BenchRow] = []
    rows = run_entries(suite("ft")[:1], time_limit=10, on_row=seen.append)
    assert rows == seen
    assert rows[0]["instance"] == "ft06" and rows[0]["bks"] == 55 and rows[0]["makespan"] == 55


def test_a_user_file_named_like_a_benchmark_but_of_another_size_gets_no_bks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ft06.jsp"
    path.write_text("2 2\n0 3 1 2\n1 4 0 1\n")
    row = run_file(path, "jsp", time_limit=5)
    assert row["instance"] == "ft06" and row["bks"] is None
    assert row["makespan"] == row["bound"] == 6
