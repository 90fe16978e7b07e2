"""Runs: lifecycle, filters, and failing runs a restart interrupted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from phactory.model import Site
from phactory.store import (
    INTERRUPTED_ERROR,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RunRecord,
    Store,
)
from phactory.store.schema import UTCDateTime


@pytest.fixture
def saved(store: Store, site: Site) -> Store:
    store.save_site(site)
    return store


def _timestamps_are_utc(run: RunRecord) -> None:
    for stamp in (run.created_at, run.started_at, run.finished_at):
        assert stamp is None or stamp.tzinfo is UTC


def test_run_lifecycle(saved: Store) -> None:
    run = saved.create_run("simulate", site_id="tiny", params={"days": 7})
    assert (run.status, run.progress, run.site_version, run.scenario_id) == (
        "queued",
        0.0,
        1,
        None,
    )
    assert run.started_at is None and run.finished_at is None and run.results is None
    running = saved.start_run(run.id)
    assert running.status == "running" and running.started_at is not None
    half = saved.update_run(run.id, progress=0.5)
    assert half.progress == 0.5 and half.started_at == running.started_at
    done = saved.finish_run(run.id, {"oee": 0.71, "batches": [1, 2]})
    assert done.status == "done" and done.progress == 1.0 and done.is_final
    assert done.finished_at is not None and running.started_at is not None
    assert run.created_at <= running.started_at <= done.finished_at
    assert saved.get_run(run.id) == done
    assert saved.get_run(str(run.id)).results == {"oee": 0.71, "batches": [1, 2]}
    _timestamps_are_utc(done)
    with pytest.raises(InvalidTransition, match=f"run {run.id} is done; it cannot change"):
        saved.update_run(run.id, progress=0.2)


def test_failed_and_cancelled_runs(saved: Store) -> None:
    failing = saved.create_run("schedule", site_id="tiny")
    saved.start_run(failing.id)
    failed = saved.fail_run(failing.id, "solver infeasible")
    assert (failed.status, failed.error) == ("failed", "solver infeasible")
    assert failed.finished_at is not None
    cancelled = saved.cancel_run(saved.create_run("simulate", site_id="tiny").id)
    assert cancelled.status == "cancelled" and cancelled.started_at is None


def test_lifecycle_rules(saved: Store) -> None:
    run = saved.create_run("simulate", site_id="tiny")
    with pytest.raises(InvalidTransition, match="cannot go from queued to done"):
        saved.update_run(run.id, status="done")
    with pytest.raises(InvalidInput, match="unknown run status 'paused'"):
        saved.update_run(run.id, status="paused")  # type: ignore[arg-type]
    for bad in (-0.1, 1.5, float("nan"), True):
        with pytest.raises(InvalidInput, match="progress must be a fraction"):
            saved.update_run(run.id, progress=bad)
    with pytest.raises(InvalidInput, match="run results must be a mapping"):
        saved.update_run(run.id, results=[1, 2])  # type: ignore[arg-type]
    assert saved.get_run(run.id) == run  # nothing changed


def test_runs_of_a_scenario(saved: Store) -> None:
    scenario = saved.create_scenario("base", "tiny")
    run = saved.create_run("simulate", scenario_id=scenario.id)
    assert (run.scenario_id, run.site_id, run.site_version) == (scenario.id, "tiny", 1)
    with pytest.raises(InvalidInput, match="is on site tiny v1, not other"):
        saved.create_run("simulate", scenario_id=scenario.id, site_id="other")
    saved.delete_scenario(scenario.id)
    kept = saved.get_run(run.id)
    assert kept.scenario_id is None and kept.status == "queued"


def test_bad_run_input(saved: Store) -> None:
    with pytest.raises(InvalidInput, match="needs a site_id or a scenario_id"):
        saved.create_run("simulate")
    with pytest.raises(InvalidInput, match="run kind"):
        saved.create_run("", site_id="tiny")
    with pytest.raises(InvalidInput, match="created_by must be at most 200"):
        saved.create_run("simulate", site_id="tiny", created_by="x" * 201)
    with pytest.raises(NotFound, match="site elsewhere not found"):
        saved.create_run("simulate", site_id="elsewhere")
    with pytest.raises(NotFound, match="scenario"):
        saved.create_run("simulate", scenario_id="0" * 32)
    with pytest.raises(NotFound, match="run nope not found"):
        saved.get_run("nope")
    with pytest.raises(NotFound, match="run"):
        saved.start_run("0" * 32)
    assert saved.list_runs() == []


def test_list_runs_filters_newest_first(saved: Store) -> None:
    a = saved.create_run("simulate", site_id="tiny")
    b = saved.create_run("schedule", site_id="tiny")
    c = saved.start_run(saved.create_run("simulate", site_id="tiny").id)
    assert [r.id for r in saved.list_runs()] == [c.id, b.id, a.id]
    assert [r.id for r in saved.list_runs(kind="simulate")] == [c.id, a.id]
    assert [r.id for r in saved.list_runs(status="running")] == [c.id]
    assert [r.id for r in saved.list_runs(status=["queued", "running"], limit=2)] == [c.id, b.id]
    assert saved.list_runs(site_id="elsewhere") == []


def test_interrupted_runs_are_failed_on_restart(store_url: str, site: Site) -> None:
    with Store(store_url) as before:
        before.save_site(site)
        queued = before.create_run("simulate", site_id="tiny")
        running = before.start_run(before.create_run("simulate", site_id="tiny").id)
        done = before.finish_run(before.start_run(before.create_run("x", site_id="tiny").id).id)
    with Store(store_url) as after:  # the server restarts
        changed = after.mark_interrupted_runs_failed()
        assert set(changed) == {queued.id, running.id}
        for run_id in changed:
            run = after.get_run(run_id)
            assert (run.status, run.error) == ("failed", INTERRUPTED_ERROR)
            assert run.finished_at is not None
        assert after.get_run(done.id) == done
        assert after.mark_interrupted_runs_failed() == []


def test_naive_datetimes_are_refused() -> None:
    from sqlalchemy.dialects import sqlite

    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), sqlite.dialect())
