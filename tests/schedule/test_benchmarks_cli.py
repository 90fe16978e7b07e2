"""``phactory bench scheduling`` through Typer's test runner, against the sub-app itself."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from phactory.cli.bench_commands import app
from phactory.schedule.benchmarks.catalog import data_text

runner = CliRunner()
KEYS = {"instance", "bks", "makespan", "bound", "gap_to_bks", "seconds"}


def test_user_file_with_catalog_name_reports_the_bks(tmp_path: Path) -> None:
    path = tmp_path / "ft06.txt"
    path.write_text(data_text("ft06.jsp"))
    result = runner.invoke(app, ["scheduling", "--instance", str(path), "--time-limit", "20"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 1 and set(rows[0]) == KEYS
    assert rows[0]["instance"] == "ft06"
    assert rows[0]["bks"] == 55 and rows[0]["makespan"] == 55 and rows[0]["bound"] == 55
    assert rows[0]["gap_to_bks"] == 0.0


def test_unknown_user_file_has_null_bks(tmp_path: Path) -> None:
    path = tmp_path / "mine.fjs"
    # Brandimarte layout with one machine per operation: a job shop.
    path.write_text("2 2\n2 1 2 4 1 1 2\n1 1 1 5\n")
    result = runner.invoke(
        app, ["scheduling", "--instance", str(path), "--format", "fjsp", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["instance"] == "mine" and row["bks"] is None and row["gap_to_bks"] is None
    # Job 1 runs on machine 2 (0-4) then machine 1 (5-7, after job 2's 0-5 there).
    assert row["makespan"] == row["bound"] == 7


def test_a_flexible_shop_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "flex.fjs"
    path.write_text("2 2\n2 2 1 3 2 4 1 2 2\n1 1 1 5\n")
    result = runner.invoke(app, ["scheduling", "--instance", str(path)])
    assert result.exit_code == 2
    assert "flexible job shop" in " ".join(result.output.split())
    result = runner.invoke(app, ["scheduling", "--suite", "mk"])
    assert result.exit_code == 2
    assert "benchmarks/scheduling.py --suite mk" in " ".join(result.output.split())


def test_suite_run_lists_every_instance() -> None:
    result = runner.invoke(
        app, ["scheduling", "--suite", "ft", "--time-limit", "1", "--workers", "2"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["instance"] for r in rows] == ["ft06", "ft10", "ft20"]
    for row in rows:
        assert set(row) == KEYS
        assert row["makespan"] >= row["bks"] >= row["bound"]
        assert row["gap_to_bks"] >= 0


def test_malformed_file_exits_2_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsp"
    path.write_text("2 2\n0 1 1 1\n0 1 1 oops\n")
    result = runner.invoke(app, ["scheduling", "--instance", str(path)])
    assert result.exit_code == 2
    assert f"{path}:3:" in result.output
    assert "Traceback" not in result.output


def test_missing_file_and_conflicting_options_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scheduling", "--instance", str(tmp_path / "none.jsp")])
    # Rich wraps the message at the terminal's width, which a long temporary path moves.
    assert result.exit_code == 2 and "no such file" in " ".join(result.output.split())
    result = runner.invoke(app, ["scheduling", "--suite", "ft", "--instance", "x.jsp"])
    assert result.exit_code == 2 and "either --suite or --instance" in result.output
    result = runner.invoke(app, ["scheduling", "--suite", "zz"])
    assert result.exit_code == 2
