"""Live KPIs: from a batch record run by the engine, and from a twin run replayed as a
live plant (the same numbers as the twin's)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from ebr_world import World, completed_batch, tiny_site

from phactory.errors import InvalidError
from phactory.events import PlantEvent, to_plant_events
from phactory.live import events_from_record, live_kpis


def test_kpis_of_a_batch_run_by_the_engine(world: World) -> None:
    completed_batch(world)
    events = events_from_record(world.records.access.engine.url.render_as_string(False))
    k = live_kpis(tiny_site(), events)
    assert k.events == len(events)
    k.log.check()
    site = k.result.site
    assert site["batches_completed"] == 1
    assert 0 < site["utilisation"] <= 1
    assert 0 <= site["oee"] <= 1
    # The window runs from the first event (the release) to the last.
    assert k.start == events[0].t


def test_a_twin_run_as_a_live_plant_has_the_twin_kpis(mab_site) -> None:  # type: ignore[no-untyped-def]
    from phactory.kpi import compute
    from phactory.twin import simulate

    twin = simulate(mab_site, days=30, seed=3)
    assert twin.epoch is not None
    end = twin.epoch + dt.timedelta(hours=twin.horizon_h)
    k = live_kpis(mab_site, to_plant_events(twin), twin.epoch, end)
    expected = compute(twin, mab_site).site
    for name in ("throughput_per_day", "oee", "availability", "utilisation"):
        assert k.result.site[name] == pytest.approx(expected[name], rel=1e-9, nan_ok=True), name


def test_refusals_name_the_site_and_the_cause(mab_site) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidError, match="no live events of site"):
        live_kpis(mab_site, [])
    t = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)
    bad = PlantEvent(t=t, kind="state", unit="NO-SUCH-UNIT", state="idle")
    with pytest.raises(InvalidError, match="NO-SUCH-UNIT"):
        live_kpis(mab_site, [bad])
    with pytest.raises(InvalidError, match="not after its start"):
        live_kpis(mab_site, [], t, t)
    assert math.isfinite(live_kpis(mab_site, [], t, t + dt.timedelta(hours=1)).result.horizon_h)
