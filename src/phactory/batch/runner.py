"""The runner: drives a batch through its phases and acts on commands.

Commands (Start, Pause, Resume, Hold, Restart, Stop, Abort, Reset) come from people
through :meth:`BatchEngine.command`, from any process; :meth:`BatchEngine.run` acts on
them: Pause takes effect at the next phase boundary, Hold at once (the phase in flight
is held), Stop and Abort end the phase in flight. The runner holds a lease on the batch
(``host:pid`` and a heartbeat) and, attaching after a crash, brings a phase that was in
flight back Held. The execution model, crash safety and time base are described in
:mod:`phactory.batch.engine`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Table, select, update

from phactory.batch.control_recipe import (
    ControlPhase,
)
from phactory.batch.drivers import PhaseDriver, PhaseProgress
from phactory.batch.instructions import (
    SimulatedOperator,
)
from phactory.batch.signing import StepSigning
from phactory.batch.state_recording import (
    IN_FLIGHT,
    BatchBusy,
    BatchStatus,
    TickResult,
    host_name,
    pid_alive,
)
from phactory.batch.states import FINAL_STATES, State
from phactory.records.record import BatchInfo, StepInfo
from phactory.records.schema import BatchRow, StepRow
from phactory.records.service import RecordTx
from phactory.records.users import SYSTEM_USER

if TYPE_CHECKING:
    from phactory.batch.engine import BatchEngine

__all__ = ["PhaseRunner"]

_BATCHES: Final = cast(Table, BatchRow.__table__)
_STEPS: Final = cast(Table, StepRow.__table__)


class PhaseRunner(StepSigning):
    """Runs batches phase by phase; reports their status."""

    def run(
        self,
        batch_id: str,
        *,
        operator: SimulatedOperator | None = None,
        timeout_s: float | None = None,
        wait: bool = False,
        progress: Callable[[BatchStatus], None] | None = None,
    ) -> BatchStatus:
        """Run a batch until it finishes, or (unless ``wait``) until it waits for people.

        Parameters
        ----------
        operator
            Performs manual phases (demonstrations and tests); without one the runner
            returns (or waits) at a manual phase until people complete it.
        timeout_s
            Return after this long at the latest [s].
        wait
            Keep polling while the batch is Held, Paused, Idle or at a manual phase
            (commands and entries may come from other processes).
        progress
            Called with the status after each tick that changed something.

        Returns
        -------
        BatchStatus

        Raises
        ------
        BatchBusy
            If a live runner elsewhere holds the batch.
        """
        self.attach(batch_id)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while True:
                result = self.tick(batch_id, operator=operator)
                if result.progressed and progress is not None:
                    progress(self.status(batch_id))
                if result.finished or (result.blocked and not wait):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    break
                if not result.progressed:
                    time.sleep(self.tick_s)
        finally:
            self.detach(batch_id)
        return self.status(batch_id)

    def _lease_alive(self, runner: str | None, heartbeat: datetime | None) -> bool:
        if not runner or runner == self.identity:
            return False
        host, _, rest = runner.partition(":")
        pid_text = rest.split(":")[0]
        if host == host_name() and pid_text.isdigit():
            pid = int(pid_text)
            if pid != os.getpid():
                return pid_alive(pid)
        if heartbeat is None:
            return False
        return (self.records.now() - heartbeat).total_seconds() < self.lease_s

    def attach(self, batch_id: str) -> None:
        """Take the batch's lease; bring a phase left in flight back Held (recovery).

        Raises
        ------
        BatchBusy
            If a live runner elsewhere holds the batch.
        """
        with self.records.transaction() as tx:
            row = self._batch_row(tx, batch_id, lock=True)
            if self._lease_alive(row.runner, row.heartbeat):
                raise BatchBusy(f"batch {batch_id} is being run by {row.runner}")
            tx.conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.batch_id == batch_id)
                .values(runner=self.identity, heartbeat=self.records.now())
            )
            self._recover(tx, batch_id, State(row.state), row.runner)
        self._last_beat = time.monotonic()
        self._notify(tx)

    def detach(self, batch_id: str) -> None:
        """Give the lease up (drivers of phases in flight are forgotten)."""
        for key in [k for k in self._drivers if k[0] == batch_id]:
            del self._drivers[key]
        with self.records.transaction() as tx:
            tx.conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.batch_id == batch_id, _BATCHES.c.runner == self.identity)
                .values(runner=None)
            )

    def _recover(self, tx: RecordTx, batch_id: str, state: State, previous: str | None) -> None:
        steps = self._step_rows(tx, batch_id)
        in_flight = [
            s
            for s in steps
            if s.kind == "automatic"
            and State(s.state) in (State.RUNNING, State.HOLDING, State.RESTARTING)
            and (batch_id, s.step) not in self._drivers
        ]
        if not in_flight:
            return
        why = (
            f"engine re-attached (previous runner {previous or 'none'}): "
            "the phase was in flight without its driver"
        )
        for s in in_flight:
            self._set_phase_state(tx, batch_id, s.step, State(s.state), State.HELD, why)
            tx.append(
                user_id=SYSTEM_USER,
                kind="alarm",
                subject=f"step:{batch_id}/{s.step}",
                field="engine",
                new="recovered after interruption: phase Held",
                batch_id=batch_id,
            )
        if state in (State.RUNNING, State.PAUSING, State.RESTARTING, State.HOLDING):
            self._set_batch_state(tx, SYSTEM_USER, batch_id, state, State.HELD, why)

    def tick(self, batch_id: str, *, operator: SimulatedOperator | None = None) -> TickResult:
        """Do the next thing the batch needs; return what happened."""
        now = time.monotonic()
        if now - self._last_beat > self.heartbeat_s:
            with self.records.transaction() as tx:
                tx.conn.execute(
                    update(_BATCHES)
                    .where(_BATCHES.c.batch_id == batch_id)
                    .values(heartbeat=self.records.now())
                )
            self._last_beat = now
        info = self.records.batch(batch_id)
        state = State(info.state)
        if info.ended_at is not None:
            return TickResult(finished=True)
        steps = self.records.steps(batch_id)
        flying = next((s for s in steps if State(s.state) in IN_FLIGHT), None)
        if state in (State.IDLE, State.PAUSED, State.HELD):
            return TickResult(blocked=f"batch is {state.value}: waiting for a command")
        if state is State.HOLDING:
            return self._hold(batch_id, flying)
        if state is State.RESTARTING:
            return self._restart(batch_id, flying)
        if state in (State.STOPPING, State.ABORTING):
            return self._end(batch_id, state, flying)
        # Running or Pausing
        if flying is None:
            if state is State.PAUSING:
                return self._finish_transient(batch_id, State.PAUSING, "pause point reached")
            nxt = next((s for s in steps if s.state == State.IDLE), None)
            if nxt is None:
                return self._complete_batch(batch_id)
            return self._start_phase(batch_id, nxt)
        if State(flying.state) is not State.RUNNING:
            return TickResult(blocked=f"step {flying.step} is {flying.state}")
        if flying.kind == "automatic":
            return self._drive(batch_id, flying)
        return self._manual(batch_id, flying, operator)

    def _finish_transient(self, batch_id: str, state: State, reason: str) -> TickResult:
        target = {
            State.PAUSING: State.PAUSED,
            State.HOLDING: State.HELD,
            State.RESTARTING: State.RUNNING,
            State.STOPPING: State.STOPPED,
            State.ABORTING: State.ABORTED,
        }[state]
        with self.records.transaction() as tx:
            if State(self._batch_row(tx, batch_id, lock=True).state) is not state:
                return TickResult(progressed=True)
            self._set_batch_state(tx, SYSTEM_USER, batch_id, state, target, reason)
        self._notify(tx)
        return TickResult(progressed=True, finished=target in FINAL_STATES)

    def _complete_batch(self, batch_id: str) -> TickResult:
        with self.records.transaction() as tx:
            if State(self._batch_row(tx, batch_id, lock=True).state) is not State.RUNNING:
                return TickResult(progressed=True)
            self._set_batch_state(
                tx, SYSTEM_USER, batch_id, State.RUNNING, State.COMPLETE, "all phases complete"
            )
            tx.append(
                user_id=SYSTEM_USER,
                kind="equipment",
                subject=f"batch:{batch_id}",
                field="released",
                new=self.control_recipe(batch_id).units,
                batch_id=batch_id,
            )
        self._notify(tx)
        return TickResult(progressed=True, finished=True)

    def _start_phase(self, batch_id: str, step: StepInfo) -> TickResult:
        phase = self.control_recipe(batch_id).phase(step.step)
        driver: PhaseDriver | None = None
        with self.records.transaction() as tx:
            if State(self._batch_row(tx, batch_id, lock=True).state) is not State.RUNNING:
                return TickResult(progressed=True)
            check = self._hold_time_check(tx, batch_id, phase)
            if check == "wait":
                return TickResult()
            if check == "hold":
                self._set_batch_state(
                    tx,
                    SYSTEM_USER,
                    batch_id,
                    State.RUNNING,
                    State.HOLDING,
                    f"hold-time breach before {phase.path}: batch to be scrapped",
                )
                self._notify(tx)
                return TickResult(progressed=True)
            recipe = self.control_recipe(batch_id)
            if (
                phase.path
                == recipe.unit_procedure(phase.unit_procedure).operations[0].phases[0].path
            ):
                tx.append(
                    user_id=SYSTEM_USER,
                    kind="equipment",
                    subject=f"step:{batch_id}/{phase.path}",
                    field="unit",
                    new=phase.unit,
                    data={"unit_procedure": phase.unit_procedure},
                    batch_id=batch_id,
                )
            if phase.kind == "automatic" and phase.inputs:
                problem = self._charge_automatic(tx, batch_id, phase)
                if problem:
                    self.records.raise_in(
                        tx,
                        user_id=SYSTEM_USER,
                        batch_id=batch_id,
                        step=phase.path,
                        kind="material",
                        description=problem,
                    )
                    self._set_batch_state(
                        tx, SYSTEM_USER, batch_id, State.RUNNING, State.HOLDING, problem
                    )
                    self._notify(tx)
                    return TickResult(progressed=True)
            self._set_phase_state(
                tx, batch_id, phase.path, State.IDLE, State.RUNNING, "phase started"
            )
            if phase.kind == "automatic":
                driver = self.driver_factory(phase)
        if driver is not None:
            driver.start(phase, elapsed_h=0.0, seed=self.control_recipe(batch_id).seed)
            self._drivers[(batch_id, phase.path)] = driver
        self._notify(tx)
        return TickResult(progressed=True)

    def _record_samples(
        self, tx: RecordTx, batch_id: str, phase: ControlPhase, progress: PhaseProgress
    ) -> None:
        subject = f"step:{batch_id}/{phase.path}"
        for sample in progress.samples:
            p = phase.parameter(sample.parameter)
            bad = not p.in_limits(sample.value)
            tx.append(
                user_id=SYSTEM_USER,
                kind="value",
                subject=subject,
                field=sample.parameter,
                new=sample.value,
                data={
                    "unit": sample.unit,
                    "t_h": sample.t_h,
                    "sample": sample.index,
                    "setpoint": p.setpoint,
                    "low": p.low,
                    "high": p.high,
                    "out_of_limit": bad,
                },
                batch_id=batch_id,
            )
            if bad:
                self._out_of_limit(
                    tx,
                    batch_id,
                    phase,
                    p.name,
                    sample.value,
                    sample.unit,
                    p.low,
                    p.high,
                    p.critical,
                )
        if progress.samples:
            tx.conn.execute(
                update(_STEPS)
                .where(_STEPS.c.batch_id == batch_id, _STEPS.c.step == phase.path)
                .values(elapsed_h=progress.samples[-1].t_h)
            )

    def _drive(self, batch_id: str, step: StepInfo) -> TickResult:
        phase = self.control_recipe(batch_id).phase(step.step)
        key = (batch_id, step.step)
        driver = self._drivers.get(key)
        if driver is None:  # running without a driver: attach() makes this Held
            with self.records.transaction() as tx:
                self._recover(tx, batch_id, State(self._batch_row(tx, batch_id).state), None)
            return TickResult(progressed=True)
        progress = driver.poll()
        if not progress.samples and not progress.done and progress.failed is None:
            return TickResult()
        with self.records.transaction() as tx:
            row = self._batch_row(tx, batch_id, lock=True)
            # Values measured are recorded whatever the batch state now is.
            self._record_samples(tx, batch_id, phase, progress)
            if State(row.state) not in (State.RUNNING, State.PAUSING):
                pass  # a command came in meanwhile: the next tick acts on it
            elif progress.failed is not None:
                self._set_phase_state(
                    tx, batch_id, phase.path, State.RUNNING, State.ABORTED, progress.failed
                )
                self.records.raise_in(
                    tx,
                    user_id=SYSTEM_USER,
                    batch_id=batch_id,
                    step=phase.path,
                    kind="aborted_phase",
                    description=f"phase failed: {progress.failed}",
                )
                self._set_batch_state(
                    tx,
                    SYSTEM_USER,
                    batch_id,
                    State(row.state),
                    State.HOLDING,
                    f"phase {phase.path} failed",
                )
                self._drivers.pop(key, None)
            elif progress.done:
                self._produce_outputs(tx, batch_id, phase, SYSTEM_USER)
                tx.conn.execute(
                    update(_STEPS)
                    .where(_STEPS.c.batch_id == batch_id, _STEPS.c.step == phase.path)
                    .values(elapsed_h=phase.duration_h)
                )
                self._set_phase_state(
                    tx, batch_id, phase.path, State.RUNNING, State.COMPLETE, "phase complete"
                )
                self._drivers.pop(key, None)
        self._notify(tx)
        return TickResult(progressed=True)

    def _manual(
        self, batch_id: str, step: StepInfo, operator: SimulatedOperator | None
    ) -> TickResult:
        blocked = self._blocking_deviation(batch_id, step)
        if blocked:
            return TickResult(blocked=f"step {step.step} blocked by open deviation {blocked}")
        status = self.work_instruction(batch_id, step.step)
        if not status.complete and operator is not None:
            # The runner is only ever part of a BatchEngine, the operator's counterpart.
            operator.act(cast("BatchEngine", self), batch_id, step.step)
            status = self.work_instruction(batch_id, step.step)
        if not status.complete:
            return TickResult(blocked=f"step {step.step} waits for: {', '.join(status.missing)}")
        with self.records.transaction() as tx:
            row = self._batch_row(tx, batch_id, lock=True)
            current: Any = tx.conn.execute(
                select(_STEPS.c.state).where(
                    _STEPS.c.batch_id == batch_id, _STEPS.c.step == step.step
                )
            ).scalar_one()
            if State(row.state) not in (State.RUNNING, State.PAUSING) or current != State.RUNNING:
                return TickResult(progressed=True)
            self._set_phase_state(
                tx,
                batch_id,
                step.step,
                State.RUNNING,
                State.COMPLETE,
                "work instruction complete and signed",
            )
        self._notify(tx)
        return TickResult(progressed=True)

    def _hold(self, batch_id: str, flying: StepInfo | None) -> TickResult:
        with self.records.transaction() as tx:
            if State(self._batch_row(tx, batch_id, lock=True).state) is not State.HOLDING:
                return TickResult(progressed=True)
            if flying is not None and State(flying.state) is State.RUNNING:
                driver = self._drivers.get((batch_id, flying.step))
                if driver is not None:
                    driver.hold()
                self._set_phase_state(
                    tx, batch_id, flying.step, State.RUNNING, State.HOLDING, "Hold command"
                )
                self._set_phase_state(
                    tx, batch_id, flying.step, State.HOLDING, State.HELD, "phase held"
                )
            self._set_batch_state(
                tx, SYSTEM_USER, batch_id, State.HOLDING, State.HELD, "batch held"
            )
        self._notify(tx)
        return TickResult(progressed=True)

    def _restart(self, batch_id: str, flying: StepInfo | None) -> TickResult:
        started: tuple[PhaseDriver, ControlPhase, float, bool] | None = None
        with self.records.transaction() as tx:
            if State(self._batch_row(tx, batch_id, lock=True).state) is not State.RESTARTING:
                return TickResult(progressed=True)
            if flying is not None and State(flying.state) is State.HELD:
                self._set_phase_state(
                    tx, batch_id, flying.step, State.HELD, State.RESTARTING, "Restart command"
                )
                self._set_phase_state(
                    tx, batch_id, flying.step, State.RESTARTING, State.RUNNING, "phase restarted"
                )
                if flying.kind == "automatic":
                    phase = self.control_recipe(batch_id).phase(flying.step)
                    driver = self._drivers.get((batch_id, flying.step))
                    if driver is None:
                        started = (self.driver_factory(phase), phase, flying.elapsed_h, True)
                    else:
                        started = (driver, phase, flying.elapsed_h, False)
            self._set_batch_state(
                tx, SYSTEM_USER, batch_id, State.RESTARTING, State.RUNNING, "batch restarted"
            )
        if started is not None:
            driver, phase, elapsed, fresh = started
            if fresh:
                driver.start(phase, elapsed_h=elapsed, seed=self.control_recipe(batch_id).seed)
                self._drivers[(batch_id, phase.path)] = driver
            else:
                driver.restart()
        self._notify(tx)
        return TickResult(progressed=True)

    def _end(self, batch_id: str, state: State, flying: StepInfo | None) -> TickResult:
        final = State.STOPPED if state is State.STOPPING else State.ABORTED
        transient = state
        with self.records.transaction() as tx:
            if State(self._batch_row(tx, batch_id, lock=True).state) is not state:
                return TickResult(progressed=True)
            if flying is not None:
                driver = self._drivers.pop((batch_id, flying.step), None)
                if driver is not None and final is State.STOPPED:
                    driver.stop()
                elif driver is not None:
                    driver.abort()
                old = State(flying.state)
                if old is not transient:
                    self._set_phase_state(
                        tx,
                        batch_id,
                        flying.step,
                        old,
                        transient,
                        f"{'Stop' if final is State.STOPPED else 'Abort'} command",
                    )
                self._set_phase_state(
                    tx, batch_id, flying.step, transient, final, f"phase {final.value.lower()}"
                )
                if final is State.ABORTED:
                    self.records.raise_in(
                        tx,
                        user_id=SYSTEM_USER,
                        batch_id=batch_id,
                        step=flying.step,
                        kind="aborted_phase",
                        description=f"phase {flying.step} aborted while {old.value}",
                    )
            self._set_batch_state(
                tx, SYSTEM_USER, batch_id, state, final, f"batch {final.value.lower()}"
            )
        self._notify(tx)
        return TickResult(progressed=True, finished=True)

    def status(self, batch_id: str) -> BatchStatus:
        """The batch, its steps and what it waits for."""
        info = self.records.batch(batch_id)
        steps = self.records.steps(batch_id)
        waiting = None
        state = State(info.state)
        if info.ended_at is None:
            if state in (State.IDLE, State.PAUSED, State.HELD):
                waiting = f"a command (batch is {state.value})"
            else:
                flying = next((s for s in steps if State(s.state) in IN_FLIGHT), None)
                if flying is not None and flying.kind == "manual" and flying.state == State.RUNNING:
                    blocked = self._blocking_deviation(batch_id, flying)
                    if blocked:
                        waiting = f"deviation {blocked} to be closed ({flying.step})"
                    else:
                        missing = self.work_instruction(batch_id, flying.step).missing
                        waiting = f"work instruction {flying.step}: {', '.join(missing)}"
        if waiting is None and info.status == "in_progress":
            pending = self.pending_resignatures(batch_id)
            if pending:
                waiting = "re-signature after a correction: " + ", ".join(
                    f"{s.record_id.split('/', 1)[1]} ({s.meaning})" for s in pending
                )
        return BatchStatus(info, steps, waiting)

    def batches(self) -> list[BatchInfo]:
        """Every batch, newest first."""
        return self.records.batches()
