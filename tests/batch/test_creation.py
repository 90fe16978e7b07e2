"""Creating batches: ids checked where they enter, default ids from the one batch-id
function, and a time scale of the batch's own that every engine honours (a restarted
server continues the batch at the speed it was started with). On SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time

import pytest
from ebr_world import World, operator, perform_fill, tiny_site

from phactory.batch import BatchEngine, SimulatedUnit, State, TimeScaleError
from phactory.model.ids import batch_id as order_batch_id
from phactory.records import Refused

STIR = "mix/main/stir"


def test_default_ids_of_order_batches_come_from_the_one_batch_id_function(
    world: World,
) -> None:
    engine = BatchEngine(world.records, time_scale=math.inf)
    site, sup = tiny_site(), world["sup"]
    (order,) = site.orders
    first = engine.lifecycle.create_batch(sup, site, order_id="O1").batch_id
    engine.lifecycle.create_batch(sup, site, "r1", batch_id="O1-B03")  # taken by hand
    second = engine.lifecycle.create_batch(sup, site, order_id="O1").batch_id
    third = engine.lifecycle.create_batch(sup, site, order_id="O1").batch_id
    assert [first, second] == site.batch_ids(order)[:2] == ["O1-B01", "O1-B02"]
    assert third == order_batch_id("O1", 4)  # the first number not taken
    assert [engine.lifecycle.create_batch(sup, site, "r1").batch_id for _ in range(2)] == [
        "r1-0001",
        "r1-0002",
    ]
    assert world.records.batches.get(first).order_id == "O1"


@pytest.mark.parametrize(
    "bad",
    ['B1"><script>alert(1)</script>', "../etc/passwd", "B 1", "", "B" * 101],
)
def test_a_batch_id_that_is_not_an_id_is_refused_and_nothing_recorded(
    sqlite_world: World, bad: str
) -> None:
    world = sqlite_world
    engine = BatchEngine(world.records, time_scale=math.inf)
    with pytest.raises(Refused, match=r"batch id .* is not valid: use letters, digits"):
        engine.lifecycle.create_batch(world["sup"], tiny_site(), "r1", batch_id=bad)
    assert world.records.batches.find() == []
    assert [e.kind for e in world.records.audit.entries() if e.kind == "batch.created"] == []


def test_a_batch_runs_at_its_own_time_scale_in_any_engine(world: World) -> None:
    """Before, only the engine's time scale counted: a real-time server ran an instant
    batch for three hours of its stir phase."""
    records, sup = world.records, world["sup"]
    server = BatchEngine(records, tick_s=0.001)  # real time, as a server by default
    info = server.lifecycle.create_batch(sup, tiny_site(), "r1", time_scale=math.inf)
    assert info.time_scale == math.inf and server.context.time_scale_of(info.batch_id) == math.inf
    created = next(e for e in records.audit.entries(info.batch_id) if e.kind == "batch.created")
    assert created.new["time_scale"] == "inf"
    server.lifecycle.command(sup, info.batch_id, "Start")
    server.runner.run(info.batch_id)
    perform_fill(server, world, info.batch_id)
    # A restarted server: a new engine at real time continues the batch at its speed.
    restarted = BatchEngine(records, tick_s=0.001)
    status = restarted.runner.run(info.batch_id, timeout_s=30)
    assert status.state is State.COMPLETE, status
    plain = server.lifecycle.create_batch(sup, tiny_site(), "r1")
    assert plain.time_scale is None and server.context.time_scale_of(plain.batch_id) == 1.0
    created = next(e for e in records.audit.entries(plain.batch_id) if e.kind == "batch.created")
    assert created.new["time_scale"] is None


def test_hold_times_are_measured_at_the_batchs_time_scale(sqlite_world: World) -> None:
    world = sqlite_world
    engine = BatchEngine(world.records, tick_s=0.001)  # real time: 4 h would be 4 h
    info = engine.lifecycle.create_batch(world["sup"], tiny_site(), "r1", time_scale=1e4)
    assert engine.context.time_scale_of(info.batch_id) == 1e4
    engine.lifecycle.command(world["sup"], info.batch_id, "Start")
    engine.runner.run(info.batch_id)
    perform_fill(engine, world, info.batch_id)
    engine.runner.attach(info.batch_id)
    for _ in range(100_000):  # stir: 3 recipe hours, about a second at 1e4
        engine.runner.tick(info.batch_id)
        if any(
            s.step == STIR and s.state == "Complete"
            for s in engine.runner.status(info.batch_id).steps
        ):
            break
    else:
        raise AssertionError("stir did not complete at the batch's time scale")
    time.sleep(4 * 3600 / 1e4 + 0.2)  # longer than the 4 h limit at the batch's scale
    engine.runner.detach(info.batch_id)
    assert engine.runner.run(info.batch_id, timeout_s=30).state is State.COMPLETE
    devs = world.records.deviations.find(info.batch_id)
    assert [(d.kind, d.step) for d in devs] == [("hold_time", "hold/main/wait")]


def test_an_engine_driver_that_runs_at_a_time_scale_runs_the_batch_at_its_own(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    slow = SimulatedUnit(time_scale=1.0, disturbances={"stir": {"temperature": 8.0}})
    assert slow.at_time_scale(math.inf).disturbances == slow.disturbances
    engine = BatchEngine(world.records, driver=slow, tick_s=0.001)
    info = engine.lifecycle.create_batch(world["sup"], tiny_site(), "r1", time_scale=math.inf)
    engine.lifecycle.command(world["sup"], info.batch_id, "Start")
    assert engine.runner.run(info.batch_id, operator=operator(world), timeout_s=30).state is (
        State.COMPLETE
    )
    devs = world.records.deviations.find(info.batch_id)
    assert [(d.kind, d.step) for d in devs] == [("out_of_limit", STIR)]  # its disturbance


@pytest.mark.parametrize("bad", [0, 0.5, float("nan")])
def test_a_batch_time_scale_below_real_time_is_refused(sqlite_world: World, bad: float) -> None:
    engine = BatchEngine(sqlite_world.records)
    with pytest.raises(TimeScaleError, match="time scale of the batch"):
        engine.lifecycle.create_batch(sqlite_world["sup"], tiny_site(), "r1", time_scale=bad)
    assert sqlite_world.records.batches.find() == []
