"""Background runs: progress, cancellation, reproducibility, comparison, scheduling."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from phactory.app.services.workspace import scheduler_available
from phactory.model import load_site
from phactory.study import run_study
from phactory.twin import replication_seeds

from .conftest import TINY, Api


def _start(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/runs", json=body)
    assert response.status_code == 202, response.text
    run: dict[str, Any] = response.json()
    return run


def _upload(api: Api) -> None:
    response = api.upload("tiny-site.yaml", TINY.read_bytes())
    assert response.status_code == 201, response.text


def test_examples_are_loaded_on_first_start(run_api: Api) -> None:
    sites = {s["site_id"] for s in run_api.get("/api/v1/sites").json()}
    assert {"mab-biologics", "mrna-vaccine", "car-t-autologous"} <= sites
    created_by = {s["created_by"] for s in run_api.get("/api/v1/sites").json()}
    assert created_by == {"system"}


def test_progress_is_reported_and_a_running_run_can_be_cancelled(run_api: Api) -> None:
    run = _start(run_api, site_id="mab-biologics", days=365, replications=40)
    deadline = time.monotonic() + 60
    seen: list[float] = []
    while time.monotonic() < deadline:
        state = run_api.get(f"/api/v1/runs/{run['id']}").json()
        if state["status"] == "running" and 0.0 < state["progress"] < 1.0:
            seen.append(state["progress"])
            if len(seen) >= 2 and seen[-1] > seen[0]:
                break
        assert state["status"] in ("queued", "running"), state
        time.sleep(0.2)
    assert len(seen) >= 2 and seen[-1] > seen[0], f"no progress seen: {seen}"
    assert run_api.get(f"/api/v1/runs/{run['id']}/results").status_code == 409
    cancelled = run_api.post(f"/api/v1/runs/{run['id']}/cancel")
    assert cancelled.status_code == 200
    final = run_api.wait(run["id"], timeout=15)
    assert final["status"] == "cancelled"
    assert final["finished_at"] is not None
    again = run_api.post(f"/api/v1/runs/{run['id']}/cancel")
    assert again.status_code == 409


def test_a_queued_run_is_cancelled_before_it_starts(run_api: Api) -> None:
    first = _start(run_api, site_id="mab-biologics", days=365, replications=40)
    second = _start(run_api, site_id="mab-biologics", days=30, replications=1)
    assert run_api.get(f"/api/v1/runs/{second['id']}").json()["status"] == "queued"
    run_api.post(f"/api/v1/runs/{second['id']}/cancel")
    run_api.post(f"/api/v1/runs/{first['id']}/cancel")
    assert run_api.wait(second["id"], timeout=15)["status"] == "cancelled"
    assert run_api.wait(first["id"], timeout=15)["status"] == "cancelled"
    assert run_api.get(f"/api/v1/runs/{second['id']}").json()["started_at"] is None


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return bool(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12))


def test_results_equal_the_library_study_with_the_same_seed(run_api: Api) -> None:
    _upload(run_api)
    run = _start(run_api, site_id="tiny", days=15, replications=3, seed=5)
    assert run_api.wait(run["id"])["status"] == "done"
    kpis = run_api.get(f"/api/v1/runs/{run['id']}/kpis").json()
    expected = run_study(load_site(TINY), 15, 3, 5, processes=1).to_dict()["kpis"]
    assert set(kpis) == set(expected)
    for name, value in expected.items():
        for stat in ("mean", "ci_low", "ci_high"):
            assert _same(kpis[name][stat], value[stat]), (name, stat, kpis[name], value)


def test_two_runs_with_shared_seeds_compare_paired(run_api: Api) -> None:
    _upload(run_api)
    scenario = run_api.post(
        "/api/v1/scenarios",
        json={
            "name": "one operator",
            "site_id": "tiny",
            "overrides": {"teams.ops.headcount": 1},
            "run_settings": {"days": 15, "replications": 3, "seed": 1},
        },
    ).json()
    base = _start(run_api, site_id="tiny", days=15, replications=3, seed=1)
    other = _start(run_api, scenario_id=scenario["id"])
    assert run_api.wait(base["id"])["status"] == "done"
    assert run_api.wait(other["id"])["status"] == "done"
    assert run_api.get(f"/api/v1/runs/{other['id']}").json()["scenario_id"] == scenario["id"]
    response = run_api.get("/api/v1/runs/compare", params={"a": base["id"], "b": other["id"]})
    assert response.status_code == 200, response.text
    body = response.json()
    # Both runs use seed 1 with 3 replications: the same three replication seeds.
    assert (body["test"], body["shared_seeds"]) == ("paired", 3)
    assert body["method"] == "paired t-test over 3 shared seeds"
    assert body["ci"] == "95 % CI of the mean paired difference B − A"
    rows = {r["kpi"]: r for r in body["rows"]}
    oee = rows["oee"]
    assert oee["unit"] == "1" and oee["n_a"] == oee["n_b"] == 3
    assert oee["a"]["mean"] is not None and oee["b"]["mean"] is not None
    if oee["diff_ci_low"] is not None:
        assert oee["diff_ci_low"] <= oee["diff"] <= oee["diff_ci_high"]
    assert rows["lead_time_h"]["unit"] == "h"


def test_runs_with_different_seeds_compare_with_welch(run_api: Api) -> None:
    _upload(run_api)
    a = _start(run_api, site_id="tiny", days=15, replications=2, seed=1)
    b = _start(run_api, site_id="tiny", days=15, replications=2, seed=2)
    assert run_api.wait(a["id"])["status"] == "done"
    assert run_api.wait(b["id"])["status"] == "done"
    body = run_api.get("/api/v1/runs/compare", params={"a": a["id"], "b": b["id"]}).json()
    assert (body["test"], body["shared_seeds"]) == ("welch", 0)
    assert body["method"].startswith("Welch t-test (no shared seeds")
    assert body["ci"] == "95 % CI of the difference of means B − A"


#: Results of a simulation as stored before run results were typed (no ``kind``, no
#: replication seeds, NaN written as null): what databases in use hold.
OLD_SIMULATION_RESULTS: dict[str, Any] = {
    "site": "tiny",
    "name": "tiny",
    "days": 15.0,
    "replications": 2,
    "seed": 4,
    "wall_s": 0.5,
    "kpis": {
        "oee": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        "vein_to_vein_h": {"mean": None, "ci_low": None, "ci_high": None},
    },
    "units": {"T1": {"oee": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}}},
    "replication_kpis": [{"oee": 0.45, "vein_to_vein_h": None}, {"oee": 0.55}],
    "bottleneck_units": ["T1", None],
    "dispatch": "edd",
}
#: A scheduling run's results as stored before: its KPIs at the top level.
OLD_SCHEDULE_RESULTS: dict[str, Any] = {
    "site": "tiny",
    "status": "OPTIMAL",
    "objective": "makespan",
    "objective_value": 40.0,
    "best_bound": 40.0,
    "gap": 0.0,
    "solve_time_s": 0.2,
    "duration_quantile": None,
    "batches": 3,
    "operations": 6,
    "makespan_h": 40.0,
    "tardiness_h": 0.0,
    "kind": "schedule",
    "epoch": "2027-01-04T00:00:00+00:00",
}


def _stored(api: Api, kind: str, results: dict[str, Any]) -> str:
    store = api.ctx.store
    run = store.create_run(kind, site_id="tiny", params={"name": "old"})
    store.start_run(run.id)
    store.finish_run(run.id, results)
    return str(run.id)


def test_results_stored_by_earlier_versions_still_load(run_api: Api) -> None:
    _upload(run_api)
    old = _stored(run_api, "simulate", OLD_SIMULATION_RESULTS)
    results = run_api.get(f"/api/v1/runs/{old}/results").json()
    assert results["kind"] == "simulate" and results["dispatch"] == "edd"
    assert results["replication_seeds"] is None  # not recorded then
    assert results["replication_kpis"][0] == {"oee": 0.45, "vein_to_vein_h": None}
    assert results["units"]["T1"]["oee"]["mean"] == 0.5
    kpis = run_api.get(f"/api/v1/runs/{old}/kpis").json()
    assert kpis["oee"] == {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}
    assert kpis["vein_to_vein_h"]["mean"] is None
    # Its replications' seeds are those every simulation draws from the base seed, so a
    # new run with the same seed pairs with it.
    new = _start(run_api, site_id="tiny", days=15, replications=2, seed=4)
    assert run_api.wait(new["id"])["status"] == "done"
    stored = run_api.get(f"/api/v1/runs/{new['id']}/results").json()
    assert stored["replication_seeds"] == replication_seeds(4, 2)
    body = run_api.get("/api/v1/runs/compare", params={"a": old, "b": new["id"]}).json()
    assert (body["test"], body["shared_seeds"]) == ("paired", 2)
    scheduled = _stored(run_api, "schedule", OLD_SCHEDULE_RESULTS)
    results = run_api.get(f"/api/v1/runs/{scheduled}/results").json()
    assert results["kind"] == "schedule" and results["status"] == "OPTIMAL"
    assert results["kpis"] == {"makespan_h": 40.0, "tardiness_h": 0.0}
    assert run_api.get(f"/api/v1/runs/{scheduled}/kpis").status_code == 409


def test_a_site_that_cannot_run_is_refused_at_once(run_api: Api) -> None:
    _upload(run_api)
    response = run_api.post(
        "/api/v1/runs", json={"site_id": "tiny", "days": 5000, "replications": 1}
    )
    assert response.status_code == 422


@pytest.mark.skipif(not scheduler_available(), reason="phactory.schedule has no solve() yet")
def test_a_scheduling_run_stores_the_schedule(run_api: Api) -> None:
    _upload(run_api)
    run = _start(run_api, kind="schedule", site_id="tiny", days=15, time_limit_s=5)
    final = run_api.wait(run["id"], timeout=90)
    assert final["status"] == "done", final
    results = run_api.get(f"/api/v1/runs/{run['id']}/results").json()
    assert results["kind"] == "schedule"
    schedule = run_api.get(f"/api/v1/runs/{run['id']}/schedule").json()
    assert schedule["operations"]
    first = schedule["operations"][0]
    assert {"batch", "procedure", "unit", "start_h", "end_h"} <= set(first)
    assert run_api.get(f"/api/v1/runs/{run['id']}/kpis").status_code == 409


@pytest.mark.skipif(not scheduler_available(), reason="phactory.schedule has no solve() yet")
def test_a_scheduling_run_can_plan_at_a_duration_quantile(run_api: Api) -> None:
    _upload(run_api)
    bad = run_api.post(
        "/api/v1/runs", json={"kind": "schedule", "site_id": "tiny", "duration_quantile": 1.5}
    )
    assert bad.status_code == 422 and "duration_quantile" in bad.text
    run = _start(
        run_api, kind="schedule", site_id="tiny", days=15, time_limit_s=5, duration_quantile=0.9
    )
    final = run_api.wait(run["id"], timeout=90)
    assert final["status"] == "done", final
    assert final["params"]["duration_quantile"] == 0.9
    results = run_api.get(f"/api/v1/runs/{run['id']}/results").json()
    assert results["duration_quantile"] == 0.9


def test_scheduling_without_a_scheduler_is_501(
    run_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phactory.app.services import workspace

    monkeypatch.setattr(workspace, "scheduler_available", lambda: False)
    _upload(run_api)
    response = run_api.post("/api/v1/runs", json={"kind": "schedule", "site_id": "tiny"})
    assert response.status_code == 501
    assert "not available" in response.json()["detail"]


def test_simulations_run_in_a_separate_lower_priority_process(run_api: Api) -> None:
    """The server's interpreter lock stays free for requests while a simulation runs."""
    import os

    run = _start(run_api, site_id="mab-biologics", days=10, replications=1)
    assert run_api.wait(run["id"])["status"] == "done"
    workers = [s.process for s in run_api.ctx.runner._slots if s.process is not None]
    assert workers, "no worker process"
    for process in workers:
        assert process.pid is not None and process.pid != os.getpid()
        assert process.is_alive()
        assert os.getpriority(os.PRIO_PROCESS, process.pid) > os.getpriority(os.PRIO_PROCESS, 0)


def test_a_running_runs_progress_is_read_fresh_through_the_read_cache(run_api: Api) -> None:
    run = _start(run_api, site_id="mab-biologics", days=365, replications=20)
    seen: set[float] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(seen) < 3:
        state = run_api.get(f"/api/v1/runs/{run['id']}").json()
        seen.add(state["progress"])
        if state["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert len(seen) >= 3, seen  # progress moves although the answers are cached
    run_api.post(f"/api/v1/runs/{run['id']}/cancel")
    final = run_api.wait(run["id"])
    assert run_api.get(f"/api/v1/runs/{run['id']}").json()["status"] == final["status"]


def test_the_scenarios_page_shows_ratio_differences_in_percentage_points() -> None:
    from phactory.app.ui.pages.scenarios import _fmt_diff
    from phactory.study.comparison import KpiDifference

    oee = KpiDifference(kpi="oee", unit="1", diff=0.031, ci_low=0.012, ci_high=0.05)
    assert _fmt_diff(oee) == "+3.1 pp (1.2 – 5.0)"
    lone = KpiDifference(kpi="on_time_delivery", unit="1", diff=-0.004)
    assert _fmt_diff(lone) == "-0.4 pp (no CI)"
    lead = KpiDifference(kpi="lead_time_h", unit="h", diff=14.0, ci_low=8.0, ci_high=20.0)
    assert "pp" not in _fmt_diff(lead) and _fmt_diff(lead).startswith("+")
    assert _fmt_diff(KpiDifference(kpi="oee", unit="1")) == "n/a"
