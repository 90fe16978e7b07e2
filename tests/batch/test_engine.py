"""Batch execution end to end, on SQLite and PostgreSQL: commands, deviations, genealogy."""

from __future__ import annotations

import math
import time

import pytest
from ebr_world import (
    FILL,
    World,
    cart_site,
    completed_batch,
    perform_fill,
    started_batch,
    tiny_site,
)

from phactory.batch import (
    BatchBusy,
    BatchEngine,
    InvalidCommand,
    SimulatedOperator,
    SimulatedUnit,
    State,
)
from phactory.records import PermissionDenied, Refused, record_events
from phactory.records.audit import NO_VALUE, AuditEntry

STIR = "mix/main/stir"


def _tick_until(engine: BatchEngine, batch_id: str, done: object, limit: int = 500) -> None:
    for _ in range(limit):
        if done():  # type: ignore[operator]
            return
        engine.runner.tick(batch_id)
    raise AssertionError("condition not reached")


def _step(world: World, batch_id: str, step: str) -> str:
    return next(s.state for s in world.records.batches.steps(batch_id) if s.step == step)


def test_batch_runs_to_complete_and_its_record_is_complete(world: World) -> None:
    engine, batch_id = completed_batch(world)
    record = world.records.batches.record(batch_id)
    assert [s.state for s in record.steps] == ["Complete"] * 3
    by_kind: dict[str, list[AuditEntry]] = {}
    for e in record.entries:
        by_kind.setdefault(e.kind, []).append(e)
    states = [(e.old, e.new) for e in record.entries if e.kind == "batch.state"]
    assert states == [("Idle", "Running"), ("Running", "Complete")]
    assert len(by_kind["value"]) == 4  # stir's temperature, 4 samples
    assert {e.new for e in by_kind["equipment"] if e.field == "unit"} == {"T1", "T2"}
    consumed = [m for m in record.materials if m.direction == "consumed"]
    assert [(m.lot_id, m.quantity, m.unit) for m in consumed] == [("W-001", 100.0, "L")]
    assert world.records.lots.get("W-001").quantity == pytest.approx(900.0)
    events = record_events(record)
    assert list(events["kind"][:2]) == ["batch_started", "phase_started"]
    assert (events["kind"] == "phase_completed").sum() == 3
    assert events["kind"].iloc[-1] == "batch_completed"
    assert engine.runner.status(batch_id).finished
    assert world.records.audit.verify().ok


def test_hold_and_restart_an_automatic_phase(world: World) -> None:
    engine = BatchEngine(world.records, driver=SimulatedUnit(time_scale=1e4), tick_s=0.001)
    _, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id)
    engine.runner.attach(batch_id)
    _tick_until(engine, batch_id, lambda: _step(world, batch_id, STIR) == "Running")
    engine.lifecycle.command(world["op1"], batch_id, "Hold", "pump noise")
    engine.runner.tick(batch_id)
    assert (world.records.batches.get(batch_id).state, _step(world, batch_id, STIR)) == (
        "Held",
        "Held",
    )
    with pytest.raises(Exception, match="Held: command Resume refused"):
        engine.lifecycle.command(world["op1"], batch_id, "Resume")
    engine.lifecycle.command(world["sup"], batch_id, "Restart", "pump checked")
    engine.runner.detach(batch_id)
    assert engine.runner.run(batch_id, timeout_s=60).batch.state == "Complete"
    phase_states = [
        e.new
        for e in world.records.audit.entries(subject=f"step:{batch_id}/{STIR}")
        if e.kind == "phase.state"
    ]
    assert phase_states == ["Running", "Holding", "Held", "Restarting", "Running", "Complete"]


def test_pause_takes_effect_at_the_next_phase_boundary(world: World) -> None:
    engine, batch_id = started_batch(world)
    engine.lifecycle.command(world["op1"], batch_id, "Pause")
    assert engine.runner.run(batch_id).batch.state == "Pausing"  # the manual phase is still going
    perform_fill(engine, world, batch_id)
    status = engine.runner.run(batch_id)
    assert status.batch.state == "Paused"
    assert [s.state for s in status.steps] == ["Complete", "Idle", "Idle"]
    engine.lifecycle.command(world["op1"], batch_id, "Resume")
    assert engine.runner.run(batch_id, timeout_s=30).batch.state == "Complete"


def test_stop_ends_the_batch_and_frees_its_units(world: World) -> None:
    engine, batch_id = started_batch(world)
    with pytest.raises(PermissionDenied, match=r"may not batch\.stop"):
        engine.lifecycle.command(world["op1"], batch_id, "Stop")
    engine.lifecycle.command(world["sup"], batch_id, "Stop", "campaign cancelled")
    status = engine.runner.run(batch_id)
    assert status.batch.state == "Stopped" and status.steps[0].state == "Stopped"
    assert status.finished
    with pytest.raises(InvalidCommand, match="has ended"):
        engine.lifecycle.command(world["sup"], batch_id, "Start")
    with pytest.raises(Refused, match="unknown command 'Launch': use one of Start, Pause"):
        engine.lifecycle.command(world["sup"], batch_id, "Launch")
    other = engine.lifecycle.create_batch(world["sup"], tiny_site(), "r1")
    engine.lifecycle.command(world["sup"], other.batch_id, "Start")
    engine.runner.run(other.batch_id)  # units are allocated as unit procedures start
    perform_fill(engine, world, other.batch_id)
    assert engine.runner.run(other.batch_id, timeout_s=30).batch.state == "Complete"
    assert engine.context.control_recipe(other.batch_id).units == ["T1", "T2"]


def test_abort_raises_an_aborted_phase_deviation(world: World) -> None:
    engine, batch_id = started_batch(world)
    engine.lifecycle.command(world["sup"], batch_id, "Abort", "contamination suspected")
    assert engine.runner.run(batch_id).batch.state == "Aborted"
    devs = world.records.deviations.find(batch_id)
    assert [(d.kind, d.step) for d in devs] == [("aborted_phase", FILL)]
    engine.lifecycle.command(world["sup"], batch_id, "Reset")
    assert world.records.batches.get(batch_id).state == "Idle"


def test_out_of_limit_process_value_raises_one_deviation_and_alarms(world: World) -> None:
    engine = BatchEngine(
        world.records,
        driver=SimulatedUnit(time_scale=math.inf, disturbances={"stir": {"temperature": 8.0}}),
        tick_s=0.001,
    )
    _, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id)
    assert engine.runner.run(batch_id, timeout_s=30).batch.state == "Complete"
    devs = world.records.deviations.find(batch_id)
    assert [(d.kind, d.step) for d in devs] == [("out_of_limit", STIR)]
    alarms = [e for e in world.records.audit.entries(batch_id) if e.kind == "alarm"]
    assert len(alarms) == 4
    cats = {i.category for i in world.records.disposition.exceptions(batch_id)}
    assert {"deviation", "out_of_limit", "alarm"} <= cats


def test_hold_time_breach_raises_a_deviation(sqlite_world: World) -> None:
    world = sqlite_world
    engine = BatchEngine(
        world.records, driver=SimulatedUnit(time_scale=math.inf), time_scale=1e4, tick_s=0.001
    )
    _, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id)
    engine.runner.attach(batch_id)
    _tick_until(engine, batch_id, lambda: _step(world, batch_id, STIR) == "Complete")
    time.sleep(4 * 3600 / 1e4 + 0.2)  # longer than the 4 h limit at this time scale
    engine.runner.detach(batch_id)
    assert engine.runner.run(batch_id, timeout_s=30).batch.state == "Complete"
    devs = world.records.deviations.find(batch_id)
    assert [(d.kind, d.step) for d in devs] == [("hold_time", "hold/main/wait")]
    assert "limit 4 h" in devs[0].description


def test_review_lists_only_the_exceptions(world: World) -> None:
    engine, batch_id = started_batch(world)
    engine.manual.check_equipment(world["op1"], batch_id, FILL, "T2")  # fails
    perform_fill(engine, world, batch_id, temperature=20.0)
    with pytest.raises(Refused, match="give a reason"):
        engine.manual.enter(world["op1"], batch_id, FILL, "temperature", 20.5)
    engine.manual.enter(world["op1"], batch_id, FILL, "temperature", 20.5, reason="re-measured")
    world.records.signing.correct(
        world["sup"],
        batch_id=batch_id,
        subject=f"step:{batch_id}/{FILL}",
        field="temperature",
        new=20.4,
        reason="rounding",
    )
    world.records.signing.comment(world["op1"], "hose replaced before filling", batch_id=batch_id)
    items = world.records.disposition.exceptions(batch_id)
    cats = [i.category for i in items]
    assert set(cats) == {
        "deviation",
        "override",
        "repeated_entry",
        "failed_check",
        "comment",
        "invalid_signature",
    }
    listed = {i.seq for i in items}
    routine = [
        e for e in world.records.audit.entries(batch_id) if e.kind in ("phase.state", "check")
    ]
    assert not any(e.seq in listed for e in routine if e.details.get("passed") is not False)


def test_chain_of_identity_mismatch_blocks_the_step(world: World) -> None:
    site = cart_site()
    records = world.records
    engine = BatchEngine(records, time_scale=math.inf, tick_s=0.001)
    records.lots.register_site_lots(site)
    records.lots.receive(world["op1"], "APH-A", "apheresis", 1, "bag", patient="PAT-A")
    records.lots.receive(world["op1"], "APH-B", "apheresis", 1, "bag", patient="PAT-B")
    for lot in ("APH-A", "APH-B"):
        qa = world["qa"]
        records.lots.release(
            qa,
            lot,
            "incoming checks passed",
            password=world.password("qa"),
            user_id=None if qa.signed else "qa",
        )
    info = engine.lifecycle.create_batch(world["sup"], site, order_id="PAT-A-ORDER")
    batch_id, step = info.batch_id, "receipt/check-in/verify-identity"
    assert info.patient == "PAT-A"
    engine.lifecycle.command(world["sup"], batch_id, "Start")
    engine.runner.run(batch_id)
    with pytest.raises(Refused, match="chain of identity: lot belongs to patient PAT-B"):
        engine.manual.scan_material(world["op1"], batch_id, step, "APH-B")
    dev = records.deviations.find(batch_id)[0]
    assert (dev.kind, dev.step, dev.severity) == ("chain_of_identity", step, "critical")
    with pytest.raises(Refused, match=f"blocked until deviation {dev.deviation_id}"):
        engine.manual.scan_material(world["op1"], batch_id, step, "APH-A")
    assert "deviation" in (engine.runner.status(batch_id).waiting_for or "")
    for who, note in (
        ("sup", "wrong bag picked"),
        ("qa", "two bags in one shipper"),
        ("qa", "one bag per shipper; retrained"),
    ):
        s = world[who]
        records.deviations.advance(
            s,
            dev.deviation_id,
            note,
            password=world.password(who),
            user_id=None if s.signed else who,
        )
    with pytest.raises(Refused, match="label reads patient PAT-B"):
        engine.manual.scan_material(world["op1"], batch_id, step, "APH-A", patient="PAT-B")
    assert len(records.deviations.find(batch_id)) == 2  # the label mismatch raised a second one
    dev2 = records.deviations.find(batch_id)[1]
    for who, note in (("sup", "label misprint"), ("qa", "printer"), ("qa", "fixed")):
        records.deviations.advance(
            world[who], dev2.deviation_id, note, password=world.password(who)
        )
    operator = SimulatedOperator(
        world["op1"], world.password("op1"), world["op2"], world.password("op2")
    )
    status = engine.runner.run(batch_id, operator=operator, timeout_s=30)
    assert status.batch.state == "Complete"
    produced = records.batches.record(batch_id).materials
    cells = next(m.lot_id for m in produced if m.direction == "produced")
    assert records.lots.get(cells).patient == "PAT-A"
    forward = records.lots.trace("APH-A", "forward")
    assert forward.batches == [batch_id] and cells in forward.lots
    backward = records.lots.trace(cells, "backward")
    assert set(backward.lots) == {cells, "APH-A", "MED-1"}
    assert (
        "APH-B" not in records.lots.trace("APH-B", "forward").lots
        or not records.lots.trace("APH-B", "forward").batches
    )


def test_a_second_runner_is_refused_while_the_first_is_alive(world: World) -> None:
    engine, batch_id = started_batch(world)
    engine.runner.attach(batch_id)
    other = BatchEngine(world.records, time_scale=math.inf)
    with pytest.raises(BatchBusy, match="being run by") as busy:
        other.runner.attach(batch_id)
    assert busy.value.error_kind == "conflict"  # HTTP 409, one line on the command line
    engine.runner.detach(batch_id)
    other.runner.attach(batch_id)
    other.runner.detach(batch_id)


def test_one_engine_keeps_the_heartbeat_of_every_batch_it_runs(sqlite_world: World) -> None:
    """A server runs several batches on one engine. Before, one heartbeat clock served
    them all: the batch that ticked first after ``heartbeat_s`` got the beat and the
    others none, so their leases could look dead to a runner on another host."""
    records = sqlite_world.records
    engine = BatchEngine(records, time_scale=math.inf, heartbeat_s=1.0)
    a, b = (
        engine.lifecycle.create_batch(sqlite_world["sup"], tiny_site(), "r1").batch_id
        for _ in range(2)
    )
    engine.runner.attach(a)
    engine.runner.attach(b)
    before = records.batches.get(b).heartbeat
    time.sleep(1.1)  # past heartbeat_s for both batches
    engine.runner.tick(a)
    engine.runner.tick(b)  # at once after a's beat: b's own is due all the same
    after = records.batches.get(b).heartbeat
    assert before is not None and after is not None and after > before


def test_corrections_keep_no_value_for_first_recordings(world: World) -> None:
    _, batch_id = completed_batch(world)
    first = next(e for e in world.records.audit.entries(batch_id) if e.kind == "entry")
    assert first.old is NO_VALUE and first.old_value is None
    assert State(world.records.batches.get(batch_id).state) is State.COMPLETE
