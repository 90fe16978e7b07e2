"""The live event log: worked examples by hand, replays kept once, and a twin's run
replayed as a live plant giving back the same KPIs."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.events import LiveEventLog, PlantEvent, to_plant_events

T0 = dt.datetime(2027, 1, 4, 6, tzinfo=dt.UTC)


def at(h: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=h)


def state(h: float, unit: str, s: str, seq: int, batch: str = "") -> PlantEvent:
    return PlantEvent(t=at(h), kind="state", unit=unit, state=s, batch=batch, source="p", seq=seq)


def worked_events() -> list[PlantEvent]:
    # BR-01: idle 0-2, producing 2-6 (batch B1), cleaning 6-7, idle after.
    # TK-01: never reports: idle throughout.
    return [
        state(2, "BR-01", "producing", 0, "B1"),
        PlantEvent(t=at(1), kind="batch_released", batch="B1", order="O1", source="p", seq=1),
        PlantEvent(t=at(2), kind="batch_started", batch="B1", order="O1", source="p", seq=2),
        state(6, "BR-01", "cleaning", 3),
        PlantEvent(t=at(6), kind="batch_completed", batch="B1", value=1800.0, source="p", seq=4),
        state(7, "BR-01", "idle", 5),
    ]


def test_worked_example_tiles_and_counts_by_hand() -> None:
    live = LiveEventLog(["BR-01", "TK-01"], site_id="s")
    assert live.extend(worked_events()) == 6
    log = live.snapshot(T0, at(10))
    log.check()
    hours = log.state_hours()
    assert hours.loc["BR-01", "producing"] == pytest.approx(4.0)
    assert hours.loc["BR-01", "cleaning"] == pytest.approx(1.0)
    assert hours.loc["BR-01", "idle"] == pytest.approx(5.0)
    assert hours.loc["TK-01", "idle"] == pytest.approx(10.0)
    batch = log.batches.set_index("batch").loc["B1"]
    assert (batch["release_h"], batch["start_h"], batch["end_h"]) == (1.0, 2.0, 6.0)
    assert batch["status"] == "completed"
    assert batch["quantity"] == 1800.0
    assert live.state_at("BR-01", at(3)) == "producing"
    assert live.state_at("BR-01", at(0.5)) == "idle"


def test_window_clips_states_and_places_earlier_batches_before_zero() -> None:
    live = LiveEventLog(["BR-01"])
    live.extend(worked_events())
    log = live.snapshot(at(4), at(6.5))
    log.check()
    tl = log.timeline
    assert list(tl["state"]) == ["producing", "cleaning"]
    assert list(tl["start_h"]) == [0.0, 2.0]
    assert tl["batch"].iloc[0] == "B1"  # the state carried into the window keeps its batch
    batch = log.batches.set_index("batch").loc["B1"]
    assert batch["start_h"] == -2.0 and batch["end_h"] == 2.0


def test_a_window_before_completion_shows_the_batch_in_progress() -> None:
    live = LiveEventLog(["BR-01"])
    live.extend(worked_events())
    batch = live.snapshot(T0, at(5)).batches.set_index("batch").loc["B1"]
    assert batch["status"] == "in_progress" and math.isnan(batch["end_h"])


def test_bad_events_are_refused_with_what_and_where() -> None:
    live = LiveEventLog(["BR-01"])
    with pytest.raises(ValueError, match="'BR-02'"):
        live.add(state(1, "BR-02", "idle", 0))
    with pytest.raises(ValueError, match="'running' is not an ISO 22400 state"):
        live.add(state(1, "BR-01", "running", 1))
    with pytest.raises(ValueError, match="no time zone"):
        live.add(PlantEvent(t=dt.datetime(2027, 1, 1), kind="state", unit="BR-01", state="idle"))
    with pytest.raises(ValueError, match="not after its start"):
        live.snapshot(at(2), at(2))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_arrival_order_with_replays_gives_the_same_log(data: st.DataObject) -> None:
    events = worked_events()
    replays = data.draw(st.lists(st.sampled_from(events), max_size=8))
    order = data.draw(st.permutations(events + replays))
    reference = LiveEventLog(["BR-01", "TK-01"])
    reference.extend(sorted(events, key=lambda e: e.seq))
    live = LiveEventLog(["BR-01", "TK-01"])
    assert live.extend(order) == len(events)
    a, b = reference.snapshot(T0, at(10)), live.snapshot(T0, at(10))
    assert a.timeline.equals(b.timeline)
    assert (
        a.batches.sort_values("batch")
        .reset_index(drop=True)
        .equals(b.batches.sort_values("batch").reset_index(drop=True))
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_a_twin_run_replayed_as_a_live_plant_gives_the_same_kpis(mab_site, seed: int) -> None:  # type: ignore[no-untyped-def]
    from phactory.kpi import compute
    from phactory.twin import simulate

    twin = simulate(mab_site, days=60, seed=seed)
    live = LiveEventLog(twin.units, site_id=twin.site_id)
    live.extend(reversed(to_plant_events(twin)))  # arrival order does not matter
    assert twin.epoch is not None
    log = live.snapshot(twin.epoch, twin.epoch + dt.timedelta(hours=twin.horizon_h))
    log.check()
    a, b = compute(twin, mab_site), compute(log, mab_site)
    for name in ("oee", "availability", "throughput_per_day", "utilisation", "cycle_time_h"):
        x, y = a.site.get(name, math.nan), b.site.get(name, math.nan)
        assert (math.isnan(x) and math.isnan(y)) or y == pytest.approx(x, rel=1e-9), name
    assert a.units["oee"].fillna(-1).to_numpy() == pytest.approx(
        b.units["oee"].fillna(-1).to_numpy()
    )
