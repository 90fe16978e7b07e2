"""The batch record read as live plant events: a batch run by the engine gives an event
log with the twin's contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from ebr_world import World, completed_batch

from phactory.batch.plant_events import RecordEventFeed
from phactory.events import LiveEventLog


def test_a_completed_batch_becomes_a_tiling_event_log(world: World) -> None:
    _engine, batch_id = completed_batch(world)
    feed = RecordEventFeed(world.records)
    events, last = feed.read()
    assert last > 0
    kinds = [e.kind for e in events]
    assert kinds[0] == "batch_released"
    assert kinds.count("batch_started") == 1 and kinds.count("batch_completed") == 1
    assert kinds.index("batch_started") < kinds.index("batch_completed")
    assert {e.batch for e in events} == {batch_id}
    units = sorted({e.unit for e in events if e.unit})
    assert units == ["T1", "T2"]
    live = LiveEventLog(units)
    assert live.extend(events) == len(events)
    start = events[0].t - dt.timedelta(seconds=1)
    end = events[-1].t + dt.timedelta(seconds=1)
    log = live.snapshot(start, end)
    log.check()
    # Each unit ends released (idle), and produced while its phases ran.
    for unit in units:
        assert live.state_at(unit, end) == "idle"
    assert set(log.timeline["state"]) <= {"idle", "waiting_upstream", "producing"}
    assert (log.state_hours()["producing"] > 0).all()
    batch = log.batches.set_index("batch").loc[batch_id]
    assert batch["status"] == "completed"
    # Reading again from the start repeats the same numbered events: kept once.
    again, _ = RecordEventFeed(world.records).read()
    assert live.extend(again) == 0
    # Continuing from the last position reads nothing new.
    assert feed.read(last) == ([], last)
