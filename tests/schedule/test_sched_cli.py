"""``phactory schedule`` through Typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from phactory.cli import schedule_commands  # noqa: F401  (registers the commands)
from phactory.cli.main import app
from phactory.model import Site
from phactory.schedule import Schedule, check_schedule

runner = CliRunner()
TINY = Path(__file__).resolve().parents[1] / "data" / "tiny-site.yaml"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_schedule_writes_json_csv_and_gantt(tiny_site: Site, tmp_path: Path) -> None:
    out, csv, gantt = tmp_path / "s.json", tmp_path / "s.csv", tmp_path / "s.html"
    res = runner.invoke(
        app,
        [
            "schedule",
            str(TINY),
            "--objective",
            "lex:tardiness,makespan",
            "--time-limit",
            "5",
            "--workers",
            "1",
            "--out",
            str(out),
            "--csv",
            str(csv),
            "--gantt",
            str(gantt),
        ],
    )
    assert res.exit_code == 0, res.output
    for word in (
        "status",
        "optimal",
        "objective value",
        "best bound",
        "gap",
        "batches",
        "solve time",
        "valid",
    ):
        assert word in res.output
    s = Schedule.from_json(out)
    assert s.status == "optimal" and len(s.stages) == 2
    assert check_schedule(tiny_site, s) == []
    assert json.loads(out.read_text())["format"] == "phactory-schedule"
    assert csv.read_text().splitlines()[0].startswith("order,batch")
    assert "plotly" in gantt.read_text()[:5_000_000]


def test_schedule_days_limits_the_plan(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    res = runner.invoke(
        app,
        [
            "schedule",
            str(EXAMPLES / "car-t-autologous"),
            "--days",
            "1",
            "--objective",
            "tardiness",
            "--time-limit",
            "3",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    s = Schedule.from_json(out)
    assert 1 <= s.operations["batch"].nunique() <= 8


def test_bad_objective_and_bad_site_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["schedule", str(TINY), "--objective", "fastest"])
    assert res.exit_code == 2
    assert "unknown objective 'fastest'" in res.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(TINY.read_text().replace("class: tank", "class: tnak"))
    res = runner.invoke(app, ["schedule", str(broken)])
    assert res.exit_code == 2
    assert "tnak" in res.output
