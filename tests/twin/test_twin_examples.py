"""The example sites run, and their logs keep the event-log contract."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from phactory.events import STATES
from phactory.model import Site, load_site
from phactory.twin import simulate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_mab_year(mab_site: Site) -> None:
    log = simulate(mab_site, seed=1)
    log.check()
    assert log.horizon_h == 8760.0
    assert log.units == list(mab_site.units)
    hours = log.state_hours()
    assert hours.sum(axis=1).to_numpy() == pytest.approx(8760.0)
    assert set(log.timeline["state"]) <= set(STATES)
    b = log.batches
    assert len(b) == 52 and (b["status"] == "completed").sum() >= 45
    done = b[b["status"] == "completed"]
    assert (done["quantity"] == 2000.0).all()
    assert (done["end_h"] > done["start_h"]).all()
    assert {"planned_down", "cleaning", "setup", "producing"} <= set(log.timeline["state"])
    assert (log.events["kind"] == "maintenance_started").sum() >= 4
    lab = log.labour
    assert (lab["end_h"] > lab["start_h"]).all() and set(lab["team"]) <= set(mab_site.teams)


@pytest.mark.parametrize("name", ["car-t-autologous", "mrna-vaccine"])
def test_other_examples(name: str) -> None:
    path = EXAMPLES / name
    if not (path / "site.yaml").exists():
        pytest.skip(f"examples/{name} is not there yet")
    site = load_site(path)
    log = simulate(site, days=60, seed=2)
    log.check()
    assert (log.batches["status"] == "completed").any()


def test_no_overlapping_labour_beyond_headcount(mab_site: Site) -> None:
    log = simulate(mab_site, days=120, seed=5)
    lab = log.labour
    for team, rows in lab.groupby("team"):
        times = sorted({*rows["start_h"], *rows["end_h"]})
        for a, b in itertools.pairwise(times):
            mid = (a + b) / 2
            on = rows[(rows["start_h"] <= mid) & (rows["end_h"] > mid)]["count"].sum()
            assert on <= mab_site.teams[str(team)].headcount


@pytest.mark.parametrize("name", ["mab-biologics", "car-t-autologous"])
def test_a_finished_run_is_freed_by_reference_counting(name: str) -> None:
    """Twin.run cuts the run's reference cycles: little is left for the cyclic collector.

    Left to the collector, a CAR-T year's objects took it a fifth of a second, charged to
    whatever ran next (the KPIs of a replication).
    """
    import gc

    from phactory.twin import Twin
    from phactory.twin.engine import Run

    site = load_site(EXAMPLES / name)
    _ = site.orders
    gc.collect()
    gc.disable()
    try:
        Twin(site, days=60, seed=1).run()
        left = gc.collect()
        run = Run(Twin(site, days=60, seed=1))
        run.env.run(until=run.horizon)
        run.finish()
        del run
        undisposed = gc.collect()
    finally:
        gc.enable()
    assert undisposed > 2_000
    assert left * 5 < undisposed
