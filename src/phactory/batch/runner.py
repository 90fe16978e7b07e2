"""The runner: drives a batch through its phases and acts on commands.

Commands (Start, Pause, Resume, Hold, Restart, Stop, Abort, Reset) come from people
through :meth:`~phactory.batch.lifecycle.BatchLifecycle.command`, from any process;
:meth:`PhaseRunner.run` acts on them: Pause takes effect at the next phase boundary, Hold
at once (the phase in flight is held), Stop and Abort end the phase in flight. A unit
procedure is allocated its unit when it starts (:mod:`phactory.batch.allocation`) and
gives it back when it ends. The runner holds a lease on the batch
(:mod:`phactory.batch.lease`) and, attaching after a crash, brings a phase that was in
flight back Held. The execution model, crash safety and time base are described in
:mod:`phactory.batch.engine`.

A batch created with a time scale of its own runs at it, whichever engine runs it (a
restarted server continues it at the speed it was started with): the drivers of its
automatic phases are made at that scale when the engine's driver factory runs at a
time scale (:class:`~phactory.batch.drivers.TimeScaled`), and its hold times are
measured at it. Other batches run at the engine's time scale.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from phactory.batch.allocation import UnitAllocation
from phactory.batch.context import IN_FLIGHT, BatchBusy, BatchStatus, EngineContext, TickResult
from phactory.batch.control_recipe import ControlPhase
from phactory.batch.drivers import DriverFactory, PhaseDriver, PhaseProgress, TimeScaled
from phactory.batch.lease import Lease
from phactory.batch.limits import LimitChecks
from phactory.batch.manual_steps import ManualSteps
from phactory.batch.materials import MaterialHandling
from phactory.batch.operator import SimulatedOperator
from phactory.batch.signing import StepSigning
from phactory.batch.states import FINAL_STATES, State
from phactory.records import SYSTEM_USER, RecordTx, StepInfo

__all__ = ["PhaseRunner"]

#: Transient batch states and the state each ends in.
_TARGET = {
    State.PAUSING: State.PAUSED,
    State.HOLDING: State.HELD,
    State.RESTARTING: State.RUNNING,
    State.STOPPING: State.STOPPED,
    State.ABORTING: State.ABORTED,
}


class PhaseRunner:
    """Runs batches phase by phase; reports their status.

    Parameters
    ----------
    ctx
        The engine's shared context.
    materials, limits, manual, signing, allocation
        The engine's parts the runner calls on (a simulated operator acts on ``manual``,
        ``materials`` and ``signing``, as people do).
    lease
        The engine's leases and phase drivers.
    driver_factory
        Makes the driver of each automatic phase.
    tick_s
        Sleep between ticks when nothing happened [s].
    """

    def __init__(
        self,
        ctx: EngineContext,
        *,
        materials: MaterialHandling,
        limits: LimitChecks,
        manual: ManualSteps,
        signing: StepSigning,
        allocation: UnitAllocation,
        lease: Lease,
        driver_factory: DriverFactory,
        tick_s: float,
    ) -> None:
        self.ctx = ctx
        self.materials = materials
        self.limits = limits
        self.manual = manual
        self.signing = signing
        self.allocation = allocation
        self.lease = lease
        self.driver_factory = driver_factory
        self.tick_s = tick_s

    @property
    def _drivers(self) -> dict[tuple[str, str], PhaseDriver]:
        return self.lease.drivers

    def _new_driver(self, tx: RecordTx, batch_id: str, phase: ControlPhase) -> PhaseDriver:
        """The driver of an automatic phase, at the batch's own time scale if it has one."""
        factory = self.driver_factory
        scale = self.ctx.recorded_time_scale(batch_id, tx)
        if scale is not None and isinstance(factory, TimeScaled):
            factory = factory.at_time_scale(scale)
        return factory(phase)

    def run(
        self,
        batch_id: str,
        *,
        operator: SimulatedOperator | None = None,
        timeout_s: float | None = None,
        wait: bool = False,
        progress: Callable[[BatchStatus], None] | None = None,
        stop: threading.Event | None = None,
    ) -> BatchStatus:
        """Run a batch until it finishes, or (unless ``wait``) until it waits for people.

        Waiting for time (a minimum lag) or equipment (a unit) is not waiting for
        people: the runner keeps polling (until ``timeout_s``, or until ``stop`` is
        set).

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
        stop
            Checked before every tick: once set, the runner holds the automatic phases
            it drives (driver and record Held, with the reason, :meth:`Lease.hold_on_stop`;
            manual phases go on) and returns, as at a timeout. For servers shutting down.

        Raises
        ------
        BatchBusy
            If a live runner elsewhere holds the batch.
        """
        self.attach(batch_id)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        waiting: str | None = None
        try:
            while True:
                if stop is not None and stop.is_set():
                    self._hold_on_stop(batch_id)
                    if progress is not None:
                        progress(self.status(batch_id))
                    break
                result = self.tick(batch_id, operator=operator)
                changed = result.waiting != waiting
                waiting = result.waiting
                if (result.progressed or changed) and progress is not None:
                    progress(self.status(batch_id))
                if result.finished or (result.blocked and not wait):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    break
                if not result.progressed:
                    if stop is not None:
                        stop.wait(self.tick_s)
                    else:
                        time.sleep(self.tick_s)
        finally:
            self.detach(batch_id)
        return self.status(batch_id)

    def _hold_on_stop(self, batch_id: str) -> None:
        with self.ctx.transaction() as tx:
            held = self.lease.hold_on_stop(tx, batch_id)
        if held:
            self.ctx.notify(tx)

    def attach(self, batch_id: str) -> None:
        """Take the batch's lease; bring a phase left in flight back Held (recovery).

        Raises
        ------
        BatchBusy
            If a live runner elsewhere holds the batch.
        """
        with self.ctx.transaction() as tx:
            row = tx.batch(batch_id, lock=True)
            if self.lease.alive(row.runner, row.heartbeat):
                raise BatchBusy(f"batch {batch_id} is being run by {row.runner}")
            self.lease.take(tx, batch_id)
            self.lease.recover(tx, batch_id, State(row.state), row.runner, row.heartbeat)
        self.ctx.notify(tx)

    def detach(self, batch_id: str) -> None:
        """Give the lease up (drivers of phases in flight are forgotten)."""
        self.lease.give_up(batch_id)

    def tick(self, batch_id: str, *, operator: SimulatedOperator | None = None) -> TickResult:
        """Do the next thing the batch needs; return what happened."""
        self.lease.beat(batch_id)
        with self.ctx.records.access.reading() as view:
            info = view.batch(batch_id)
            steps = view.steps(batch_id)
        state = State(info.state)
        if info.ended_at is not None:
            return TickResult(finished=True)
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
        target = _TARGET[state]
        with self.ctx.transaction() as tx:
            if State(tx.batch(batch_id, lock=True).state) is not state:
                return TickResult(progressed=True)
            self.ctx.set_batch_state(tx, batch_id, state, target, reason)
        self.ctx.notify(tx)
        return TickResult(progressed=True, finished=target in FINAL_STATES)

    def _complete_batch(self, batch_id: str) -> TickResult:
        with self.ctx.transaction() as tx:
            if State(tx.batch(batch_id, lock=True).state) is not State.RUNNING:
                return TickResult(progressed=True)
            self.ctx.set_batch_state(
                tx, batch_id, State.RUNNING, State.COMPLETE, "all phases complete"
            )
            self.allocation.release(tx, batch_id, None, "batch complete")
        self.ctx.notify(tx)
        return TickResult(progressed=True, finished=True)

    def _hold_batch(self, tx: RecordTx, batch_id: str, reason: str) -> TickResult:
        self.ctx.set_batch_state(tx, batch_id, State.RUNNING, State.HOLDING, reason)
        self.ctx.notify(tx)
        return TickResult(progressed=True)

    def _start_phase(self, batch_id: str, step: StepInfo) -> TickResult:
        recipe = self.ctx.stored_recipe(batch_id)
        phase = recipe.phase(step.step)
        up = recipe.unit_procedure(phase.unit_procedure)
        first = phase.path == up.operations[0].phases[0].path
        driver: PhaseDriver | None = None
        with self.ctx.transaction() as tx:
            if State(tx.batch(batch_id, lock=True).state) is not State.RUNNING:
                return TickResult(progressed=True)
            check = self.limits.hold_time_check(tx, batch_id, phase)
            if check == "wait":
                return TickResult(waiting=f"minimum time lag before {phase.unit_procedure}")
            if check == "hold":
                return self._hold_batch(
                    tx, batch_id, f"hold-time breach before {phase.path}: batch to be scrapped"
                )
            unit = self.allocation.acquire(tx, batch_id, up) if first else step.unit
            if unit is None:
                self.ctx.notify(tx)
                return TickResult(waiting=self.allocation.waiting_text(tx, batch_id))
            phase = phase.model_copy(update={"unit": unit})
            if phase.kind == "automatic" and phase.inputs:
                short = self.materials.charge_automatic(tx, batch_id, phase, SYSTEM_USER)
                if short:
                    for material, problem in short:
                        tx.raise_deviation(
                            user_id=SYSTEM_USER,
                            batch_id=batch_id,
                            step=phase.path,
                            kind="material",
                            description=problem,
                            cause=f"material:{material}",
                        )
                    return self._hold_batch(tx, batch_id, "; ".join(p for _, p in short))
            if first:
                tx.append(
                    user_id=SYSTEM_USER,
                    kind="equipment",
                    subject=f"step:{batch_id}/{phase.path}",
                    field="unit",
                    new=unit,
                    data={"unit_procedure": phase.unit_procedure},
                    batch_id=batch_id,
                )
            self.ctx.set_phase_state(
                tx, batch_id, phase.path, State.IDLE, State.RUNNING, "phase started"
            )
            if phase.kind == "automatic":
                driver = self._new_driver(tx, batch_id, phase)
        if driver is not None:
            driver.start(phase, elapsed_h=0.0, seed=recipe.seed)
            self._drivers[(batch_id, phase.path)] = driver
        self.ctx.notify(tx)
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
                self.limits.out_of_limit(
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
            tx.set_step_progress(batch_id, phase.path, progress.samples[-1].t_h)

    def _last_of_procedure(self, batch_id: str, phase: ControlPhase) -> bool:
        up = self.ctx.stored_recipe(batch_id).unit_procedure(phase.unit_procedure)
        return phase.path == up.operations[-1].phases[-1].path

    def _drive(self, batch_id: str, step: StepInfo) -> TickResult:
        phase = self.ctx.stored_recipe(batch_id).phase(step.step)
        key = (batch_id, step.step)
        driver = self._drivers.get(key)
        if driver is None:  # running without a driver: attach() makes this Held
            with self.ctx.transaction() as tx:
                row = tx.batch(batch_id)
                self.lease.recover(tx, batch_id, State(row.state), None, row.heartbeat)
            return TickResult(progressed=True)
        progress = driver.poll()
        if not progress.samples and not progress.done and progress.failed is None:
            return TickResult()
        with self.ctx.transaction() as tx:
            state = State(tx.batch(batch_id, lock=True).state)
            # Values measured are recorded whatever the batch state now is.
            self._record_samples(tx, batch_id, phase, progress)
            if state not in (State.RUNNING, State.PAUSING):
                pass  # a command came in meanwhile: the next tick acts on it
            elif progress.failed is not None:
                self.ctx.set_phase_state(
                    tx, batch_id, phase.path, State.RUNNING, State.ABORTED, progress.failed
                )
                tx.raise_deviation(
                    user_id=SYSTEM_USER,
                    batch_id=batch_id,
                    step=phase.path,
                    kind="aborted_phase",
                    description=f"phase failed: {progress.failed}",
                )
                self.ctx.set_batch_state(
                    tx, batch_id, state, State.HOLDING, f"phase {phase.path} failed"
                )
                self._drivers.pop(key, None)
            elif progress.done:
                self.materials.produce_outputs(tx, batch_id, phase, SYSTEM_USER)
                tx.set_step_progress(batch_id, phase.path, phase.duration_h)
                self.ctx.set_phase_state(
                    tx, batch_id, phase.path, State.RUNNING, State.COMPLETE, "phase complete"
                )
                if self._last_of_procedure(batch_id, phase):
                    self.allocation.release(
                        tx, batch_id, phase.unit_procedure, "unit procedure complete"
                    )
                self._drivers.pop(key, None)
        self.ctx.notify(tx)
        return TickResult(progressed=True)

    def _manual(
        self, batch_id: str, step: StepInfo, operator: SimulatedOperator | None
    ) -> TickResult:
        blocked = self.limits.blocking_deviation(batch_id, step)
        if blocked:
            return TickResult(blocked=f"step {step.step} blocked by open deviation {blocked}")
        status = self.manual.work_instruction(batch_id, step.step)
        if not status.complete and operator is not None:
            operator.act(
                batch_id,
                step.step,
                manual=self.manual,
                materials=self.materials,
                signing=self.signing,
            )
            status = self.manual.work_instruction(batch_id, step.step)
        if not status.complete:
            return TickResult(blocked=f"step {step.step} waits for: {', '.join(status.missing)}")
        phase = self.ctx.stored_recipe(batch_id).phase(step.step)
        with self.ctx.transaction() as tx:
            state = State(tx.batch(batch_id, lock=True).state)
            current = tx.step(batch_id, step.step).state
            if state not in (State.RUNNING, State.PAUSING) or current != State.RUNNING:
                return TickResult(progressed=True)
            self.ctx.set_phase_state(
                tx,
                batch_id,
                step.step,
                State.RUNNING,
                State.COMPLETE,
                "work instruction complete and signed",
            )
            if self._last_of_procedure(batch_id, phase):
                self.allocation.release(
                    tx, batch_id, phase.unit_procedure, "unit procedure complete"
                )
        self.ctx.notify(tx)
        return TickResult(progressed=True)

    def _hold(self, batch_id: str, flying: StepInfo | None) -> TickResult:
        with self.ctx.transaction() as tx:
            if State(tx.batch(batch_id, lock=True).state) is not State.HOLDING:
                return TickResult(progressed=True)
            if flying is not None and State(flying.state) is State.RUNNING:
                driver = self._drivers.get((batch_id, flying.step))
                if driver is not None:
                    driver.hold()
                self.ctx.set_phase_state(
                    tx, batch_id, flying.step, State.RUNNING, State.HOLDING, "Hold command"
                )
                self.ctx.set_phase_state(
                    tx, batch_id, flying.step, State.HOLDING, State.HELD, "phase held"
                )
            self.ctx.set_batch_state(tx, batch_id, State.HOLDING, State.HELD, "batch held")
        self.ctx.notify(tx)
        return TickResult(progressed=True)

    def _restart(self, batch_id: str, flying: StepInfo | None) -> TickResult:
        started: tuple[PhaseDriver, ControlPhase, float, bool] | None = None
        with self.ctx.transaction() as tx:
            if State(tx.batch(batch_id, lock=True).state) is not State.RESTARTING:
                return TickResult(progressed=True)
            if flying is not None and State(flying.state) is State.HELD:
                self.ctx.set_phase_state(
                    tx, batch_id, flying.step, State.HELD, State.RESTARTING, "Restart command"
                )
                self.ctx.set_phase_state(
                    tx, batch_id, flying.step, State.RESTARTING, State.RUNNING, "phase restarted"
                )
                if flying.kind == "automatic":
                    phase = self.ctx.stored_recipe(batch_id).phase(flying.step)
                    phase = phase.model_copy(update={"unit": flying.unit})
                    driver = self._drivers.get((batch_id, flying.step))
                    if driver is None:
                        driver = self._new_driver(tx, batch_id, phase)
                        started = (driver, phase, flying.elapsed_h, True)
                    else:
                        started = (driver, phase, flying.elapsed_h, False)
            self.ctx.set_batch_state(
                tx, batch_id, State.RESTARTING, State.RUNNING, "batch restarted"
            )
        if started is not None:
            driver, phase, elapsed, fresh = started
            if fresh:
                seed = self.ctx.stored_recipe(batch_id).seed
                driver.start(phase, elapsed_h=elapsed, seed=seed)
                self._drivers[(batch_id, phase.path)] = driver
            else:
                driver.restart()
        self.ctx.notify(tx)
        return TickResult(progressed=True)

    def _end(self, batch_id: str, state: State, flying: StepInfo | None) -> TickResult:
        final = State.STOPPED if state is State.STOPPING else State.ABORTED
        transient = state
        with self.ctx.transaction() as tx:
            if State(tx.batch(batch_id, lock=True).state) is not state:
                return TickResult(progressed=True)
            if flying is not None:
                driver = self._drivers.pop((batch_id, flying.step), None)
                if driver is not None and final is State.STOPPED:
                    driver.stop()
                elif driver is not None:
                    driver.abort()
                old = State(flying.state)
                if old is not transient:
                    self.ctx.set_phase_state(
                        tx,
                        batch_id,
                        flying.step,
                        old,
                        transient,
                        f"{'Stop' if final is State.STOPPED else 'Abort'} command",
                    )
                self.ctx.set_phase_state(
                    tx, batch_id, flying.step, transient, final, f"phase {final.value.lower()}"
                )
                if final is State.ABORTED:
                    tx.raise_deviation(
                        user_id=SYSTEM_USER,
                        batch_id=batch_id,
                        step=flying.step,
                        kind="aborted_phase",
                        description=f"phase {flying.step} aborted while {old.value}",
                    )
            self.ctx.set_batch_state(tx, batch_id, state, final, f"batch {final.value.lower()}")
            self.allocation.release(tx, batch_id, None, f"batch {final.value.lower()}")
        self.ctx.notify(tx)
        return TickResult(progressed=True, finished=True)

    def status(self, batch_id: str) -> BatchStatus:
        """The batch, its steps, what it waits for and why it is held."""
        with self.ctx.records.access.reading() as view:
            info = view.batch(batch_id)
            steps = view.steps(batch_id)
            hold_reason = view.hold_reason(batch_id)
            unit_wait = self.allocation.waiting_text(view, batch_id)
            pending = [
                s
                for s in view.signatures(batch_id=batch_id, record_type="step")
                if s.needs_resignature
            ]
        waiting = None
        state = State(info.state)
        if info.ended_at is None:
            if state in (State.IDLE, State.PAUSED, State.HELD):
                waiting = f"a command (batch is {state.value}"
                waiting += f": {hold_reason})" if hold_reason else ")"
            elif unit_wait is not None:
                waiting = unit_wait
            else:
                flying = next((s for s in steps if State(s.state) in IN_FLIGHT), None)
                if flying is not None and flying.kind == "manual" and flying.state == State.RUNNING:
                    blocked = self.limits.blocking_deviation(batch_id, flying)
                    if blocked:
                        waiting = f"deviation {blocked} to be closed ({flying.step})"
                    else:
                        missing = self.manual.work_instruction(batch_id, flying.step).missing
                        waiting = f"work instruction {flying.step}: {', '.join(missing)}"
        if waiting is None and info.status == "in_progress" and pending:
            waiting = "re-signature after a correction: " + ", ".join(
                f"{s.record_id.split('/', 1)[1]} ({s.meaning})" for s in pending
            )
        return BatchStatus(info, steps, waiting, hold_reason)
