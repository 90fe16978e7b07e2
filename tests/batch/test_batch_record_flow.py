"""The batch record end to end (issue 12 item 5), on SQLite and PostgreSQL.

Each test failed before its fix: the harvested fluid a step made was "1,900 L short" at
the next step; the QP's release invalidated the QA review signature; every Restart after
a shortage raised another identical deviation and a hold on crash recovery had no
reason; a second batch could not be made while the first held the only unit of a class.
"""

from __future__ import annotations

import math

from ebr_world import World, flow_site, operator, perform_fill, tiny_site

from phactory.batch import BatchEngine, SimulatedUnit, State
from phactory.records import batch_record_html

PRODUCTION = "production/culture/grow"
CAPTURE = "capture/load/load"


def _engine(world: World) -> BatchEngine:
    return BatchEngine(world.records, time_scale=math.inf, tick_s=0.001)


def _run_flow(world: World, engine: BatchEngine, **kwargs: object) -> str:
    info = engine.lifecycle.create_batch(world["sup"], flow_site(**kwargs), "mab-r")  # type: ignore[arg-type]
    engine.lifecycle.command(world["sup"], info.batch_id, "Start")
    engine.runner.run(info.batch_id, operator=operator(world), timeout_s=30)
    return info.batch_id


def test_material_made_by_a_step_is_used_by_the_next_step_of_the_batch(world: World) -> None:
    engine = _engine(world)
    batch_id = _run_flow(world, engine)
    status = engine.runner.status(batch_id)
    assert status.state is State.COMPLETE, status.waiting_for
    assert world.records.deviations.find(batch_id) == []
    record = world.records.batches.record(batch_id)
    produced = {m.material: m for m in record.materials if m.direction == "produced"}
    consumed = [m for m in record.materials if m.direction == "consumed"]
    hccf = produced["hccf"]
    assert [(m.lot_id, m.step, m.quantity) for m in consumed if m.material == "hccf"] == [
        (hccf.lot_id, CAPTURE, 1900.0)
    ]
    assert world.records.lots.get(hccf.lot_id).status == "consumed"
    bulk = world.records.lots.get(produced["bulk"].lot_id)
    assert (bulk.status, bulk.batch_id) == ("quarantine", batch_id)
    back = world.records.lots.trace(bulk.lot_id, "backward")
    assert {"FEED-1", bulk.lot_id} <= set(back.lots)
    # What a batch made is in quarantine for any other batch.
    other = engine.lifecycle.create_batch(world["sup"], flow_site(), "mab-r")
    assert engine.materials.available_lots(other.batch_id, "bulk") == []
    assert [x.lot_id for x in engine.materials.available_lots(batch_id, "bulk")] == [bulk.lot_id]


def test_release_leaves_the_qa_review_signature_valid(world: World) -> None:
    engine = _engine(world)
    batch_id = _run_flow(world, engine)
    records = world.records
    qa, qp = world["qa"], world["qp"]
    records.disposition.review(qa, batch_id, password=world.password("qa"), user_id="qa")
    assert records.disposition.state(batch_id).can_release
    records.disposition.release(qp, batch_id, password=world.password("qp"), user_id="qp")
    sigs = records.signing.signatures(batch_id=batch_id)
    assert {s.meaning for s in sigs if s.record_type == "batch"} == {"reviewed", "released"}
    assert all(s.valid for s in sigs), [(s.meaning, s.problem) for s in sigs]
    state = records.disposition.state(batch_id)
    assert (state.status, state.text) == ("released", "released")
    assert state.review is not None and state.review.valid
    assert not state.can_release and not state.can_reject
    bulk = records.lots.find("bulk", batch_id=batch_id)[0]
    assert bulk.status == "released"  # released with the batch, inside the QP's signature
    assert records.lots.find("hccf", batch_id=batch_id)[0].status == "consumed"
    page = batch_record_html(records.batches.record(batch_id))
    assert "not reviewed by QA" not in page
    assert records.audit.verify().ok


def test_a_restart_meeting_the_same_shortage_raises_no_new_deviation(world: World) -> None:
    engine = _engine(world)
    batch_id = _run_flow(world, engine, feed="100 L")
    status = engine.runner.status(batch_id)
    assert status.state is State.HELD
    assert status.hold_reason == (f"not enough released feed for {PRODUCTION}: 200 L short"), (
        status.hold_reason
    )
    assert status.hold_reason in (status.waiting_for or "")
    for _ in range(3):
        engine.lifecycle.command(world["sup"], batch_id, "Restart", "feed checked")
        assert engine.runner.run(batch_id, timeout_s=30).state is State.HELD
    devs = world.records.deviations.find(batch_id)
    assert [(d.kind, d.step, d.cause) for d in devs] == [("material", PRODUCTION, "material:feed")]
    assert world.records.batches.hold_reason(batch_id) == status.hold_reason
    # More feed, released by QA: the next Restart goes on.
    records = world.records
    records.lots.receive(world["op1"], "FEED-2", "feed", 500, "L")
    records.lots.release(
        world["qa"], "FEED-2", "incoming checks passed", password=world.password("qa"), user_id="qa"
    )
    engine.lifecycle.command(world["sup"], batch_id, "Restart", "feed received")
    assert (
        engine.runner.run(batch_id, operator=operator(world), timeout_s=30).state is State.COMPLETE
    )
    assert len(records.deviations.find(batch_id)) == 1


def test_every_hold_records_its_reason_including_on_crash_recovery(world: World) -> None:
    records = world.records
    slow = BatchEngine(records, driver=SimulatedUnit(time_scale=1.0), tick_s=0.001)
    info = slow.lifecycle.create_batch(world["sup"], tiny_site(), "r1")
    slow.lifecycle.command(world["sup"], info.batch_id, "Start")
    slow.runner.run(info.batch_id)
    perform_fill(slow, world, info.batch_id)
    slow.runner.attach(info.batch_id)
    for _ in range(20):  # start 'stir', then stop as a crash would: lease and phase left
        slow.runner.tick(info.batch_id)
    assert next(
        s for s in slow.runner.status(info.batch_id).steps if s.step == "mix/main/stir"
    ).state == ("Running")
    # Another engine takes over once the lease has lapsed (here: at once).
    other = BatchEngine(records, time_scale=math.inf, tick_s=0.001, lease_s=0.0)
    status = other.runner.run(info.batch_id)
    assert status.state is State.HELD
    reason = status.hold_reason or ""
    assert reason.startswith("held on recovery after the engine stopped at "), reason
    assert "(crash of runner " in reason and "mix/main/stir" in reason
    assert reason in (status.waiting_for or "")
    other.lifecycle.command(world["sup"], info.batch_id, "Restart", "after the crash")
    other.lifecycle.command(world["op1"], info.batch_id, "Hold", "pump noise")
    assert other.runner.run(info.batch_id).hold_reason == "Hold command: pump noise"
    other.lifecycle.command(world["sup"], info.batch_id, "Restart", "pump checked")
    assert other.runner.run(info.batch_id, timeout_s=30).hold_reason is None


def test_a_second_batch_waits_for_the_only_unit_and_gets_it_when_it_frees(
    world: World,
) -> None:
    engine = _engine(world)
    sup = world["sup"]
    first = engine.lifecycle.create_batch(sup, flow_site(), "mab-r").batch_id
    engine.lifecycle.command(sup, first, "Start")
    engine.runner.run(first)  # stops at the manual inoculation, holding BR1
    assert engine.context.control_recipe(first).units == ["BR1"]
    second = engine.lifecycle.create_batch(sup, flow_site(), "mab-r").batch_id  # refused before
    third = engine.lifecycle.create_batch(sup, flow_site(), "mab-r").batch_id
    for b in (second, third):
        engine.lifecycle.command(sup, b, "Start")
        status = engine.runner.run(b, timeout_s=0.2)
        assert status.state is State.RUNNING
        assert (status.waiting_for or "").startswith(
            "unit procedure production waits for a unit of class bioreactor: "
            f"BR1 held by batch {first} (production) since "
        ), status.waiting_for
        assert engine.context.control_recipe(b).units == []
    engine.runner.run(first, operator=operator(world), timeout_s=30)
    assert engine.runner.status(first).state is State.COMPLETE
    # First come, first served: the second batch asked first and gets the bioreactor.
    engine.runner.run(third, timeout_s=0.2)
    assert engine.context.control_recipe(third).units == []
    assert engine.runner.run(second, operator=operator(world), timeout_s=30).state is State.COMPLETE
    assert engine.runner.run(third, operator=operator(world), timeout_s=30).state is State.COMPLETE
    kinds = [
        (e.field, e.new["unit_procedure"])
        for e in world.records.audit.entries(second)
        if e.kind == "equipment" and e.field in ("requested", "allocated", "released")
    ]
    assert kinds[:3] == [
        ("requested", "production"),
        ("allocated", "production"),
        ("released", "production"),
    ]
    assert world.records.audit.verify().ok


def test_a_held_batch_keeps_its_units_and_does_not_block_the_queue(world: World) -> None:
    engine = _engine(world)
    sup = world["sup"]
    first = engine.lifecycle.create_batch(sup, flow_site(), "mab-r").batch_id
    engine.lifecycle.command(sup, first, "Start")
    engine.runner.run(first)
    second = engine.lifecycle.create_batch(sup, flow_site(), "mab-r").batch_id
    engine.lifecycle.command(sup, second, "Start")
    engine.runner.run(second, timeout_s=0.1)  # waits for BR1
    engine.lifecycle.command(sup, second, "Hold", "operators needed elsewhere")
    engine.runner.run(second)
    third = engine.lifecycle.create_batch(sup, flow_site(), "mab-r").batch_id
    engine.lifecycle.command(sup, third, "Start")
    engine.lifecycle.command(sup, first, "Stop", "campaign cancelled")
    assert engine.runner.run(first).state is State.STOPPED  # gives BR1 back
    # The held second batch does not keep the third waiting.
    engine.runner.run(third, timeout_s=0.2)
    assert engine.context.control_recipe(third).units == ["BR1"]
