"""A run's typed results: built from a study, stored as JSON, read back in any shape."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pydantic import ValidationError

from phactory.jsonio import json_safe
from phactory.model import Site
from phactory.study import run_study
from phactory.study.results import (
    ScheduleResults,
    SimulationResults,
    load_run_results,
)
from phactory.twin import replication_seeds


def test_a_studys_results_round_trip_through_strict_json(tiny_site: Site) -> None:
    study = run_study(tiny_site, 10, 2, 3, processes=1, dispatch="edd")
    results = study.to_results()
    assert results.kind == "simulate" and results.dispatch == "edd"
    assert results.replication_seeds == replication_seeds(3, 2) == study.seeds
    assert len(results.replication_kpis) == 2 and len(results.bottleneck_units) == 2
    assert set(results.units) == {"T1", "T2"} and "oee" in results.units["T1"]
    # Undefined KPIs (no autologous product here) are None, so the JSON is strict.
    assert results.kpis["vein_to_vein_h"].mean is None
    text = json.dumps(json_safe(results), allow_nan=False)
    again = load_run_results(json.loads(text))
    assert again == results


def test_nan_reads_as_none() -> None:
    results = SimulationResults.model_validate(
        {
            "site": "s",
            "days": 1,
            "replications": 1,
            "seed": 0,
            "kpis": {"oee": {"mean": math.nan, "ci_low": math.inf, "ci_high": 0.5}},
            "replication_kpis": [{"oee": math.nan}],
        }
    )
    assert results.kpis["oee"].mean is None and results.kpis["oee"].ci_low is None
    assert results.replication_kpis == [{"oee": None}]


def test_results_of_earlier_versions_load() -> None:
    # What ``phactory simulate --save`` stored before: the --json object, no kind, no
    # replications' KPIs or seeds.
    old_cli: dict[str, Any] = {
        "site": "tiny",
        "name": "tiny",
        "days": 20.0,
        "replications": 3,
        "seed": 7,
        "wall_s": 1.2,
        "kpis": {"oee": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}},
        "units": {},
    }
    results = load_run_results(old_cli, "simulate")
    assert isinstance(results, SimulationResults)
    assert results.dispatch == "fifo" and results.replication_kpis == []
    assert results.seeds() == []  # nothing to pair
    old_worker = {**old_cli, "replication_kpis": [{"oee": 0.4}, {"oee": 0.5}, {"oee": 0.6}]}
    assert load_run_results(old_worker).seeds() == replication_seeds(7, 3)
    old_schedule = {"kind": "schedule", "status": "FEASIBLE", "makespan_h": 12.5, "note": "x"}
    schedule = load_run_results(old_schedule)
    assert isinstance(schedule, ScheduleResults)
    assert schedule.kpis == {"makespan_h": 12.5} and schedule.status == "FEASIBLE"
    untagged = load_run_results({"status": "OPTIMAL", "makespan_h": 3.0}, "schedule")
    assert isinstance(untagged, ScheduleResults) and untagged.kpis == {"makespan_h": 3.0}


def test_results_that_are_neither_are_refused() -> None:
    with pytest.raises(ValidationError):
        load_run_results({"kind": "batch"})
    with pytest.raises(ValidationError):
        load_run_results({"x": 1}, "simulate")


def test_results_keep_the_means_of_the_kpi_tables(tiny_site: Site) -> None:
    study = run_study(tiny_site, 12, 3, 5, processes=1)
    results = study.to_results()
    reps = study.results

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    assert len(results.throughput) == 12
    last = results.throughput[-1]
    assert last.cumulative_completed == pytest.approx(
        mean([float(r.throughput["cumulative_completed"].iloc[11]) for r in reps])
    )
    assert last.date is not None and last.date.startswith("2027-01-15")
    pbt = next(n for n in results.loss_tree if n.unit == "site" and n.id == "pbt")
    expected = [
        float(r.loss_tree.query("unit == 'site' and id == 'pbt'")["hours"].iloc[0]) for r in reps
    ]
    assert pbt.hours == pytest.approx(mean(expected)) and pbt.parent is not None
    t1 = next(e for e in results.energy if e.unit == "T1")
    assert t1.running_kwh == pytest.approx(
        mean([float(r.energy.loc["T1", "running_kwh"]) for r in reps])
    )
    assert {(x.team, x.shift) for x in results.labour} == {("ops", "day"), ("ops", "all")}
    assert all(0.0 <= (b.bottleneck_share or 0.0) <= 1.0 for b in results.bottlenecks)
