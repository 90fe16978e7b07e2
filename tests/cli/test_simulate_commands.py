"""``phactory simulate --schedule``: executing a schedule writes what a simulation writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phactory.cli.main import app

DATA = Path(__file__).resolve().parents[1] / "data"
SITE = str(DATA / "tiny-site.yaml")


@pytest.fixture(scope="module")
def schedule_file(runner: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schedule") / "plan.json"
    made = runner.invoke(app, ["schedule", SITE, "--time-limit", "5", "--out", str(out)])
    assert made.exit_code == 0, made.output
    return out


def _refuse(token: str) -> None:
    raise ValueError(f"not strict JSON: {token}")


def test_execute_writes_events_timeline_and_report(
    runner: CliRunner, schedule_file: Path, tmp_path: Path
) -> None:
    events, timeline, report = tmp_path / "e.csv", tmp_path / "t.csv", tmp_path / "r.html"
    result = runner.invoke(
        app,
        [
            "simulate",
            SITE,
            "--schedule",
            str(schedule_file),
            "-n",
            "2",
            "--json",
            "--events",
            str(events),
            "--timeline",
            str(timeline),
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout, parse_constant=_refuse)
    assert out["adherence"]["operations"] == 6 and out["schedule"] == str(schedule_file)
    assert out["replications"] == 2 and "oee" in out["kpis"]
    header = timeline.read_text().splitlines()[0].split(",")
    assert {"unit", "state", "start_h", "end_h", "batch"} <= set(header)
    assert len(events.read_text().splitlines()) > 1
    html = report.read_text()
    assert "plan.json" in html and "oee" in html.lower()


def test_execute_and_save_stores_the_run(
    runner: CliRunner, schedule_file: Path, tmp_path: Path
) -> None:
    from phactory.store import Store
    from phactory.study import SimulationResults, load_run_results

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    result = runner.invoke(
        app,
        ["simulate", SITE, "--schedule", str(schedule_file), "-n", "2", "--save"],
        env={"PHACTORY_DATABASE_URL": url},
    )
    assert result.exit_code == 0, result.output
    assert "Schedule adherence" in result.output and "stored run" in result.output
    with Store(url) as store:
        (run,) = store.list_runs()
        assert run.status == "done" and run.params["schedule"] == str(schedule_file)
        assert run.results is not None
        results = load_run_results(run.results, run.kind)
        assert isinstance(results, SimulationResults)
        assert results.schedule == str(schedule_file) and len(results.replication_kpis) == 2
        assert len(store.read_events(run.id)) > 0


def test_execute_refuses_a_dispatching_rule(runner: CliRunner, schedule_file: Path) -> None:
    result = runner.invoke(
        app, ["simulate", SITE, "--schedule", str(schedule_file), "--dispatch", "edd"]
    )
    assert result.exit_code == 2
    assert "--dispatch edd does not apply with --schedule" in result.output
