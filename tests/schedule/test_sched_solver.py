"""CP-SAT scheduling of pharma sites: objectives, warm start, progress, files.

Every schedule produced here goes through the independent checker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ortools.sat.python import cp_model
from test_sched_sites import heuristic_schedule, rich_site

from phactory.model import Site, load_site
from phactory.schedule import (
    Schedule,
    Scheduler,
    assert_valid,
    build_problem,
    check_schedule,
    dispatch,
    solve,
    write_gantt,
)
from phactory.schedule.model_builder import build_model
from phactory.schedule.objectives import evaluate, parse_objective, to_report_units

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_tiny_site_is_solved_to_optimality_and_checked(tiny_site: Site, tmp_path: Path) -> None:
    s = solve(tiny_site, objective="makespan", time_limit_s=10)
    assert s.status == "optimal" and s.gap == 0.0
    assert s.objective_value == s.best_bound == s.kpis["makespan_h"]
    assert_valid(tiny_site, s)
    ops = s.to_frame()
    assert list(ops.columns)[:8] == [
        "order",
        "batch",
        "product",
        "procedure",
        "equipment_class",
        "unit",
        "start_h",
        "end_h",
    ]
    assert len(ops) == 3 * 2 and set(ops["batch"]) == {"O1-B01", "O1-B02", "O1-B03"}
    # JSON round trip, CSV export
    path = tmp_path / "s.json"
    s.to_json(path)
    back = Schedule.from_json(path)
    assert back.to_dict() == s.to_dict()
    assert_valid(tiny_site, back)
    s.to_csv(tmp_path / "s.csv", tmp_path / "segments.csv")
    assert (tmp_path / "s.csv").read_text().startswith("order,batch,product")
    # Rows the twin's plan of record can follow.
    rows = s.assignments()
    assert {(r.batch, r.procedure) for r in rows} == {
        (b, p) for b in ("O1-B01", "O1-B02", "O1-B03") for p in ("mix", "hold")
    }
    assert all(r.unit in ("T1", "T2") for r in rows)


@pytest.mark.parametrize(
    "objective", ["makespan", "tardiness", "changeovers", "lex:tardiness,makespan"]
)
def test_every_objective_gives_a_checked_schedule(objective: str) -> None:
    site = rich_site()
    s = solve(site, objective=objective, time_limit_s=2.5)
    assert s.feasible, s.explanation
    assert_valid(site, s)
    assert len(s.stages) == len(parse_objective(objective))


def test_lexicographic_stages_keep_the_first_value() -> None:
    site = rich_site()
    s = solve(site, objective="lex:changeovers,makespan", time_limit_s=4)
    first, second = s.stages
    assert first.objective == "changeovers" and second.objective == "makespan"
    assert first.status == "optimal" and first.value == 1.0  # two products, one reactor
    assert s.kpis["changeovers"] == first.value
    assert s.kpis["makespan_h"] == second.value
    assert_valid(site, s)


def test_warm_start_is_never_worse_than_the_dispatch_heuristic() -> None:
    site = rich_site()
    p = build_problem(site)
    best = min(evaluate(p, dispatch(p, rule), "makespan") for rule in ("edd", "release"))
    s = Scheduler(objective="makespan", time_limit_s=0.5).solve(site)
    assert s.feasible
    assert s.objective_value is not None
    assert s.objective_value <= to_report_units(p, "makespan", best) + 1e-9
    assert_valid(site, s)


@pytest.mark.parametrize(
    ("where", "days"),
    [("tiny", None), ("rich", None), ("mab-biologics", 20), ("car-t-autologous", 2)],
)
def test_dispatch_schedule_is_a_complete_feasible_hint(where: str, days: float | None) -> None:
    site = (
        rich_site()
        if where == "rich"
        else load_site(Path(__file__).resolve().parents[1] / "data" / "tiny-site.yaml")
        if where == "tiny"
        else load_site(EXAMPLES / where)
    )
    p = build_problem(site, days=days)
    timings = dispatch(p)
    built = build_model(p)
    built.hint(timings)
    built.model.Minimize(built.objective("makespan"))
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 20
    assert solver.Solve(built.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    assert solver.ObjectiveValue() == evaluate(p, timings, "makespan")


def test_progress_reports_incumbent_bound_and_time() -> None:
    seen: list[tuple[float, float, float]] = []
    stages: list[str] = []
    site = rich_site(batches=2)
    s = solve(
        site,
        objective="lex:changeovers,makespan",
        time_limit_s=2,
        progress=lambda o, b, t: seen.append((o, b, t)),
        on_stage=stages.append,
    )
    assert stages == ["changeovers", "makespan"]
    assert seen and all(b <= o + 1e-9 and t >= 0 for o, b, t in seen)
    assert_valid(site, s)


@pytest.mark.parametrize(
    ("example", "days", "objective"),
    [
        ("mab-biologics", 20, "lex:tardiness,makespan"),
        ("car-t-autologous", 3, "tardiness"),
        ("mrna-vaccine", 60, "changeovers"),
    ],
)
def test_example_sites_get_checked_schedules(example: str, days: int, objective: str) -> None:
    site = load_site(EXAMPLES / example)
    s = solve(site, days=days, objective=objective, time_limit_s=4)
    assert s.feasible, s.explanation
    assert not s.notes or all("violation" not in n for n in s.notes)
    assert_valid(site, s)


def test_mab_qc_setup_is_worked_in_chunks_across_the_break() -> None:
    site = load_site(EXAMPLES / "mab-biologics")
    s = solve(site, days=5, objective="makespan", time_limit_s=2)
    assert_valid(site, s)
    segs = s.segments
    qc = segs[(segs["procedure"] == "qc-release") & (segs["crew"] != "")]
    # 8 h of set-up with 4 h half-shifts: at least two staffed stretches per batch.
    assert (qc.groupby("batch").size() >= 2).all()
    assert (qc.groupby("batch").apply(lambda d: (d.end_h - d.start_h).sum()) == 8.0).all()


def test_schedule_as_warm_start(tiny_site: Site) -> None:
    first = solve(tiny_site, time_limit_s=5)
    again = Scheduler(time_limit_s=5, warm_start=first).solve(tiny_site)
    assert again.objective_value == first.objective_value
    assert not any("ignored" in n for n in again.notes)
    assert_valid(tiny_site, again)


def test_hard_deadlines_are_kept() -> None:
    site = rich_site(batches=2, deadline_days=6)
    s = solve(site, deadlines=True, time_limit_s=3)
    assert s.feasible and s.deadlines
    assert_valid(site, s)
    data = json.loads(s.to_json())
    assert data["deadlines"] is True


def test_gantt_is_self_contained_html(tiny_site: Site, tmp_path: Path) -> None:
    s = solve(tiny_site, time_limit_s=3)
    path = write_gantt(s, tmp_path / "g.html", site=tiny_site)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "Schedule by unit" in text and "Schedule by batch" in text
    assert "cdn.plot.ly" not in text.split("<script", 2)[1][:300]  # plotly.js is inlined
    site = rich_site()
    rich = heuristic_schedule(site)
    assert "maintenance R-1" in write_gantt(rich, tmp_path / "r.html", site=site).read_text()


def test_checker_finds_nothing_wrong_with_every_dispatch_order() -> None:
    site = rich_site()
    p = build_problem(site)
    from phactory.schedule.solution import to_schedule

    for rule in ("release", "edd", "priority"):
        s = to_schedule(p, dispatch(p, rule), objective="makespan", status="heuristic")
        assert check_schedule(site, s) == []
