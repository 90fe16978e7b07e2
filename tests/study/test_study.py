"""Simulation studies and their commands, end to end on small sites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phactory.cli.main import _register, app
from phactory.model import Site
from phactory.study import StaffTarget, optimise_staff, run_study
from phactory.study.simulation import KPI_NAMES

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register()
    return CliRunner()


def test_study_reports_every_kpi_with_a_ci(tiny_site: Site) -> None:
    study = run_study(tiny_site, days=20, replications=3, seed=4, processes=1)
    out = study.to_dict()
    assert set(KPI_NAMES) <= set(out["kpis"])
    for name in KPI_NAMES:
        k = out["kpis"][name]
        if k["mean"] is not None:  # undefined KPIs are null, never NaN
            assert k["ci_low"] <= k["mean"] <= k["ci_high"]
    assert set(out["units"]) == {"T1", "T2"}
    assert out["replications"] == 3 and out["days"] == 20


def test_same_seed_same_numbers(tiny_site: Site) -> None:
    a = run_study(tiny_site, days=20, replications=2, seed=9, processes=1).to_dict()
    b = run_study(tiny_site, days=20, replications=2, seed=9, processes=1).to_dict()
    a.pop("wall_s"), b.pop("wall_s")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_parallel_study_equals_sequential_and_keeps_the_first_logs(tiny_site: Site) -> None:
    # KPIs are computed where each replication ran; only the first logs come back.
    seen: list[int] = []
    par = run_study(
        tiny_site,
        days=20,
        replications=4,
        seed=9,
        processes=2,
        keep_logs=2,
        progress=lambda done, _total: seen.append(done),
    )
    seq = run_study(tiny_site, days=20, replications=4, seed=9, processes=1)
    a, b = par.to_dict(), seq.to_dict()
    a.pop("wall_s"), b.pop("wall_s")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert [log.seed for log in par.logs] == [seq.logs[0].seed, par.results[1].seed]
    assert len(seq.logs) == 1 and seen == [1, 2, 3, 4]


def test_simulate_json_has_the_documented_shape(runner: CliRunner, tmp_path: Path) -> None:
    events, timeline, report = tmp_path / "e.csv", tmp_path / "t.csv", tmp_path / "r.html"
    result = runner.invoke(
        app,
        [
            "simulate",
            str(DATA / "tiny-site.yaml"),
            "--days",
            "20",
            "-n",
            "2",
            "--seed",
            "3",
            "--json",
            "--processes",
            "1",
            "--events",
            str(events),
            "--timeline",
            str(timeline),
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"site", "days", "replications", "seed", "wall_s", "kpis", "units"} <= set(out)
    assert set(KPI_NAMES) <= set(out["kpis"])
    assert set(out["kpis"]["oee"]) == {"mean", "ci_low", "ci_high"}
    header = timeline.read_text().splitlines()[0].split(",")
    assert {"unit", "state", "start_h", "end_h", "batch"} <= set(header)
    assert events.stat().st_size > 0
    html = report.read_text()
    assert '<script src="http' not in html and "oee" in html.lower()


def test_simulate_refuses_a_bad_override_scenario(runner: CliRunner, tmp_path: Path) -> None:
    sc = tmp_path / "bad.yaml"
    sc.write_text(
        f"name: bad\nbase: {DATA / 'tiny-site.yaml'}\noverrides:\n  teams.nobody.headcount: 3\n"
    )
    result = runner.invoke(app, ["simulate", "--scenario", str(sc)])
    assert result.exit_code == 2
    assert "no 'nobody' in teams" in result.output
    assert "Traceback" not in result.output


def test_simulate_refuses_a_plan_that_can_never_complete(runner: CliRunner, tmp_path: Path) -> None:
    text = (
        (DATA / "tiny-site.yaml")
        .read_text()
        .replace("areas:", "  dryer: {}\nareas:")
        .replace(
            "      hold:\n        equipment_class: tank",
            "      hold:\n        equipment_class: dryer",
        )
    )
    f = tmp_path / "never.yaml"
    f.write_text(text)
    result = runner.invoke(app, ["simulate", str(f), "--days", "5"])
    assert result.exit_code == 2
    assert "dryer" in result.output and "no units" in result.output


def test_compare_two_scenarios(runner: CliRunner, tmp_path: Path) -> None:
    base = tmp_path / "a.yaml"
    more = tmp_path / "b.yaml"
    site = DATA / "tiny-site.yaml"
    base.write_text(f"name: base\nbase: {site}\nrun: {{days: 20, replications: 3, seed: 1}}\n")
    more.write_text(
        f"name: more\nbase: {site}\noverrides:\n  plan.orders.0.batches: 6\n"
        "run: {days: 20, replications: 3, seed: 1}\n"
    )
    result = runner.invoke(app, ["compare", str(base), str(more), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout, parse_constant=_refuse)
    assert [s["name"] for s in out["scenarios"]] == ["base", "more"]
    difference = out["differences"][0]
    # Same seed, same replication seeds: compared pair by pair.
    assert (difference["test"], difference["shared_seeds"]) == ("paired", 3)
    assert difference["ci"] == "95 % CI of the mean paired difference B − A"
    diff = difference["kpis"]["batches_completed"]
    assert diff["diff"] > 0 and diff["n_a"] == diff["n_b"] == 3
    assert difference["kpis"]["oee"]["unit"] == "1"
    table = runner.invoke(app, ["compare", str(base), str(more)])
    assert table.exit_code == 0, table.output
    text = " ".join(table.output.split())
    assert "paired t-test over 3 shared seeds" in text
    assert "95 % CI of the mean paired difference B − A" in text
    assert "percentage points (pp)" in text and " pp" in text


def _refuse(token: str) -> None:
    raise ValueError(f"not strict JSON: {token}")


def test_simulate_json_is_strict_json_with_null_for_undefined_kpis(runner: CliRunner) -> None:
    # The tiny site has no autologous product: vein-to-vein time is undefined (NaN).
    result = runner.invoke(
        app,
        ["simulate", str(DATA / "tiny-site.yaml"), "--days", "10", "--json", "--processes", "1"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout, parse_constant=_refuse)  # NaN/Infinity would raise
    assert out["kpis"]["vein_to_vein_h"] == {"mean": None, "ci_low": None, "ci_high": None}
    assert "NaN" not in result.stdout


def test_staff_target_parsing() -> None:
    t = StaffTarget.parse("throughput_per_day>=0.5")
    assert (t.kpi, t.op, t.value) == ("throughput_per_day", ">=", 0.5)
    assert t.met([0.6, 0.61, 0.6], 0.95) and not t.met([0.4, 0.6], 0.95)
    with pytest.raises(ValueError, match="KPI>=VALUE"):
        StaffTarget.parse("throughput > 3")


def test_optimise_staff_finds_the_smallest_crew(tiny_site: Site) -> None:
    site = tiny_site.with_overrides({"teams.ops.headcount": 4})
    target = StaffTarget("batches_completed", ">=", 3)
    result = optimise_staff(site, target, replications=2, days=20, processes=1)
    assert result.met
    # One operator suffices (phases need one at a time); zero cannot work at all.
    assert result.headcounts == {"ops": 1}
    assert any(not e.met for e in result.evaluations if e.headcounts["ops"] == 0)
