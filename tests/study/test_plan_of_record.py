"""The twin executing a CP-SAT schedule as the plan of record."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from phactory.cli.main import _register, app
from phactory.model import Site
from phactory.schedule import Scheduler, check_schedule
from phactory.study.plan_of_record import execute_schedule
from phactory.twin import Assignment, adherence, simulate

DATA = Path(__file__).resolve().parents[1] / "data"


def _schedule(site: Site):  # type: ignore[no-untyped-def]
    result = Scheduler(objective="makespan", time_limit_s=10, grain_h=0.25).solve(site)
    assert result.feasible and check_schedule(site, result) == []
    return result


def test_deterministic_execution_follows_the_schedule_exactly(tiny_site: Site) -> None:
    sched = _schedule(tiny_site)
    plan = [Assignment(a.batch, a.procedure, a.unit, a.planned_start) for a in sched.assignments()]
    log = simulate(tiny_site, schedule=plan, deterministic=True)
    d = adherence(log)
    assert len(d) == len(sched.operations)
    assert d["delay_h"].abs().max() < 1e-6
    ops = sched.operations.set_index(["batch", "procedure"])
    for r in d.to_dict("records"):
        assert r["unit"] == ops.loc[(r["batch"], r["procedure"]), "unit"]
    assert (log.batches["status"] == "completed").all()


def test_execution_under_variability_reports_adherence(tiny_site: Site) -> None:
    result = execute_schedule(tiny_site, _schedule(tiny_site), replications=3, seed=2)
    assert result.summary["operations"] == 6
    assert 0.0 <= result.summary["share_delayed"] <= 1.0
    assert (result.operations["mean_delay_h"] >= 0).all()
    assert set(result.orders["order"]) == {"O1"}


def test_cli_schedule_then_execute(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    out = tmp_path / "s.json"
    site = str(DATA / "tiny-site.yaml")
    r1 = runner.invoke(app, ["schedule", site, "--time-limit", "5", "--out", str(out)])
    assert r1.exit_code == 0, r1.output
    r2 = runner.invoke(app, ["simulate", site, "--schedule", str(out), "-n", "2", "--json"])
    assert r2.exit_code == 0, r2.output
    data = json.loads(r2.stdout)
    assert data["adherence"]["operations"] == 6
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r3 = runner.invoke(app, ["simulate", site, "--schedule", str(bad)])
    assert r3.exit_code == 2 and "Traceback" not in r3.output


def test_cli_reschedule_after_a_breakdown(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    site = str(DATA / "tiny-site.yaml")
    first, second = tmp_path / "s.json", tmp_path / "s2.json"
    assert runner.invoke(app, ["schedule", site, "-t", "5", "--out", str(first)]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "reschedule",
            site,
            str(first),
            "--unit",
            "T1",
            "--at",
            "1",
            "--repair",
            "30",
            "-t",
            "5",
            "--out",
            str(second),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "What changed" in result.output
    check = runner.invoke(app, ["check-schedule", site, str(second)])
    assert check.exit_code == 0, check.output
    bad = runner.invoke(
        app, ["reschedule", site, str(first), "--unit", "T9", "--at", "1", "--repair", "3"]
    )
    assert bad.exit_code == 2 and "unknown unit 'T9'" in bad.output


def test_twin_dispatch_order_warm_start(tiny_site: Site) -> None:
    from phactory.study.scheduling import twin_dispatch_order

    order = twin_dispatch_order(tiny_site)
    assert sorted(order) == ["O1-B01", "O1-B02", "O1-B03"]
    from_twin = Scheduler(objective="makespan", time_limit_s=5, dispatch_orders=(order,))
    result = from_twin.solve(tiny_site)
    assert result.feasible and check_schedule(tiny_site, result) == []


def test_cli_schedule_with_twin_warm_start(tmp_path: Path) -> None:
    _register()
    out = tmp_path / "s.json"
    result = CliRunner().invoke(
        app,
        [
            "schedule",
            str(DATA / "tiny-site.yaml"),
            "-t",
            "5",
            "--warm-start",
            "twin",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_campaigns_group_products_and_cut_changeovers(tiny_site: Site) -> None:
    data = tiny_site.to_data()
    r2 = {**data["recipes"]["r1"], "id": "r2", "product": "p2"}
    site = tiny_site.with_overrides(
        {
            "recipes.r2": r2,
            "products.p2": {"recipe": "r2"},
            "changeovers": [{"equipment_class": "tank", "from": "*", "to": "*", "duration": "6 h"}],
            "plan.orders": [
                {"id": f"O{i}", "product": p, "batches": 1, "release": "2027-01-04"}
                for i, p in enumerate(["p1", "p2", "p1", "p2"])
            ],
        }
    )
    plain = Scheduler(objective="makespan", time_limit_s=5).solve(site)
    grouped = Scheduler(objective="makespan", time_limit_s=5, campaigns=True).solve(site)
    for s in (plain, grouped):
        assert s.feasible and check_schedule(site, s) == []
    assert grouped.kpis["changeovers"] <= plain.kpis["changeovers"]
    assert "changeovers" in grouped.objective


def hold_limited_line(batches: int = 6) -> Site:
    """A fixed 4 h seed step feeds a variable main step on one reactor within a 1 h hold.

    As in a seed train feeding a production bioreactor: when the previous batch's main
    step overruns its plan, the reactor is still busy when the next seed is ready, and
    that batch is lost (on_breach: scrap).
    """
    tri = {"distribution": "triangular", "low": "4 h", "mode": "4 h", "high": "10 h"}
    return Site.model_validate(
        {
            "id": "hold-line",
            "timezone": "UTC",
            "equipment_classes": {
                "seed": {"cleaning": {"method": "cip", "cip": "1 h"}},
                "reactor": {"cleaning": {"method": "cip", "cip": "1 h"}},
            },
            "areas": {
                "a": {
                    "process_cells": {
                        "c": {
                            "units": {
                                "S1": {"class": "seed"},
                                "S2": {"class": "seed"},
                                "R1": {"class": "reactor"},
                            }
                        }
                    }
                }
            },
            "products": {"p": {"recipe": "r"}},
            "recipes": {
                "r": {
                    "product": "p",
                    "status": "approved",
                    "batch_size": "100 L",
                    "unit_procedures": {
                        "seed": {
                            "equipment_class": "seed",
                            "operations": {"op": {"phases": {"grow": {"duration": "4 h"}}}},
                        },
                        "main": {
                            "equipment_class": "reactor",
                            "after": [
                                {"procedure": "seed", "max_lag": "1 h", "on_breach": "scrap"}
                            ],
                            "operations": {"op": {"phases": {"run": {"duration": tri}}}},
                        },
                    },
                }
            },
            "plan": {
                "start": "2027-01-04T00:00:00",
                "horizon": "10 d",
                "orders": [{"id": "O", "product": "p", "batches": batches}],
            },
        }
    )


def test_a_p90_plan_loses_fewer_batches_than_a_mean_plan_when_executed() -> None:
    site = hold_limited_line()
    plans = {}
    for q in (None, 0.9):
        s = Scheduler(objective="makespan", time_limit_s=10, duration_quantile=q).solve(site)
        assert s.feasible and check_schedule(site, s) == [] and s.duration_quantile == q
        plans[q] = s
    # The main phase is planned at its mean (6 h) or its P90, 10 - sqrt(0.1 * 6 * 6)
    # = 8.10 h, rounded up to the 0.25 h grain.
    react = {q: s.operations.set_index(["batch", "procedure"]) for q, s in plans.items()}
    mean_h = (
        react[None].loc[("O-B01", "main"), "end_h"] - react[None].loc[("O-B01", "main"), "start_h"]
    )
    p90_h = (
        react[0.9].loc[("O-B01", "main"), "end_h"] - react[0.9].loc[("O-B01", "main"), "start_h"]
    )
    assert mean_h == 6.0 and p90_h == 8.25
    lost = {
        q: execute_schedule(site, s, replications=20, seed=3).summary["batches_scrapped_mean"]
        for q, s in plans.items()
    }
    assert lost[0.9] < 0.5 * lost[None], lost


def test_a_schedule_remembers_its_planned_quantile(tmp_path: Path) -> None:
    site = hold_limited_line(2)
    s = Scheduler(time_limit_s=5, duration_quantile=0.8).solve(site)
    path = tmp_path / "p80.json"
    path.write_text(json.dumps(s.to_dict()))
    back = type(s).from_json(path)
    assert back.duration_quantile == 0.8 and check_schedule(site, back) == []
    # Read as a mean plan, its main phases are too long: the checker says so.
    back.duration_quantile = None
    kinds = {v.kind for v in check_schedule(site, back)}
    assert "duration" in kinds
