"""Stopping a runner (``engine.runner.run(stop=event)``, e.g. at a server's shutdown): it returns
at the next tick; an automatic phase in flight is held with its driver and recorded Held
with the reason, a manual phase goes on, and another engine continues the batch after a
Restart. On SQLite and PostgreSQL."""

from __future__ import annotations

import math
import threading
import time

from ebr_world import FILL, World, perform_fill, started_batch

from phactory.batch import BatchEngine, BatchStatus, SimulatedUnit, State

STIR = "mix/main/stir"


def _phase_states(world: World, batch_id: str, step: str) -> list[str]:
    return [
        str(e.new)
        for e in world.records.audit.entries(subject=f"step:{batch_id}/{step}")
        if e.kind == "phase.state"
    ]


def test_a_stopped_runner_holds_the_automatic_phase_it_drives(world: World) -> None:
    records = world.records
    slow = BatchEngine(records, driver=SimulatedUnit(time_scale=1.0), tick_s=0.001)
    _, batch_id = started_batch(world)
    perform_fill(slow, world, batch_id)
    stop = threading.Event()

    def stop_when_stirring(status: BatchStatus) -> None:
        if any(s.step == STIR and s.state == "Running" for s in status.steps):
            stop.set()

    status = slow.runner.run(batch_id, progress=stop_when_stirring, stop=stop, timeout_s=60)
    assert status.state is State.HELD
    assert next(s.state for s in status.steps if s.step == STIR) == "Held"
    reason = status.hold_reason or ""
    assert "because its runner was stopped" in reason and STIR in reason, reason
    assert status.batch.runner is None  # the lease is given up
    alarms = [e.new for e in records.audit.entries(batch_id) if e.kind == "alarm"]
    assert alarms == ["runner stopped: phase Held"]
    # Another engine (a restarted server) finds it Held for the same reason, no recovery.
    other = BatchEngine(records, time_scale=math.inf, tick_s=0.001)
    assert other.runner.run(batch_id).hold_reason == reason
    other.lifecycle.command(world["sup"], batch_id, "Restart", "server back")
    assert other.runner.run(batch_id, timeout_s=30).state is State.COMPLETE
    assert _phase_states(world, batch_id, STIR) == [
        "Running",
        "Held",
        "Restarting",
        "Running",
        "Complete",
    ]
    assert records.audit.verify().ok


def test_a_stopped_runner_leaves_a_manual_phase_to_people(world: World) -> None:
    engine, batch_id = started_batch(world)  # at the manual fill step
    stop = threading.Event()
    stop.set()
    status = engine.runner.run(batch_id, wait=True, stop=stop)
    assert status.state is State.RUNNING and status.current is not None
    assert (status.current.step, status.current.state) == (FILL, "Running")
    assert status.batch.runner is None
    perform_fill(engine, world, batch_id)  # people go on without a runner
    assert engine.runner.run(batch_id, timeout_s=30).state is State.COMPLETE


def test_a_runner_waiting_in_a_thread_returns_when_told_to_stop(sqlite_world: World) -> None:
    engine, batch_id = started_batch(sqlite_world)
    stop = threading.Event()
    result: list[BatchStatus] = []
    # wait=True: without ``stop`` this polls until someone completes the work instruction.
    runner = threading.Thread(
        target=lambda: result.append(engine.runner.run(batch_id, wait=True, stop=stop)), daemon=True
    )
    runner.start()
    for _ in range(6000):  # until it has taken the lease and polls
        if sqlite_world.records.batches.get(batch_id).runner is not None:
            break
        time.sleep(0.005)
    stop.set()
    runner.join(timeout=60)
    assert not runner.is_alive()
    assert result[0].state is State.RUNNING and result[0].batch.runner is None
