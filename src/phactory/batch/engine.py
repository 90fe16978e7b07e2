"""The batch engine: executes control recipes as ISA-88 batches and records everything.

A batch is a procedure of unit procedures > operations > phases (ANSI/ISA-88.00.01-2010
§4.2), run one phase after the other in the order of the control recipe. The batch and
each phase follow the state machine of :mod:`phactory.batch.states`; commands (Start,
Pause, Resume, Hold, Restart, Stop, Abort, Reset) come from people through
:meth:`BatchEngine.command`, from any process, and the runner (:meth:`BatchEngine.run`)
acts on them: Pause takes effect at the next phase boundary, Hold at once (the phase in
flight is held), Stop and Abort end the phase in flight.

Automatic phases run through a phase driver (:mod:`phactory.batch.drivers`); manual
phases are electronic work instructions (:mod:`phactory.batch.instructions`). Every
state change, value, entry, material movement, equipment use, alarm and deviation is
written to the electronic batch record (:mod:`phactory.records`) in the same database
transaction as the state it changes, so the record is never behind the batch.

Crash safety
------------
All state lives in the database; the runner holds a lease on the batch (``host:pid``
and a heartbeat). When a runner attaches to a batch (after ``kill -9``, a power cut or
a normal exit), an automatic phase that was in flight comes back **Held** and the batch
**Held** (EU GMP Annex 11 §16 business continuity): a person must Restart it, and the
driver continues from the last recorded sample. Nothing committed is lost, and nothing is
recorded twice: samples are numbered and the progress is saved with them.

Time base: wall-clock UTC for every record; recipe hours for phase progress and hold
times, with ``time_scale`` = wall-clock duration / recipe duration (as the simulated
unit).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Table, func, insert, select, update

from phactory.batch.control_recipe import (
    ControlPhase,
    ControlRecipe,
    allocate_units,
    build_control_recipe,
)
from phactory.batch.drivers import DriverFactory, PhaseDriver, PhaseProgress, SimulatedUnit
from phactory.batch.instructions import (
    InstructionStatus,
    SimulatedOperator,
    evaluate,
    work_instruction,
)
from phactory.batch.states import FINAL_STATES, Command, InvalidCommand, State, next_state
from phactory.records.audit import read_entries
from phactory.records.errors import Refused, UnknownRecord
from phactory.records.genealogy import chain_of_identity_problem
from phactory.records.record import BatchInfo, LotInfo, StepInfo
from phactory.records.roles import Action
from phactory.records.schema import BatchRow, DeviationRow, LotRow, StepRow
from phactory.records.service import RecordService, RecordTx, UserSession
from phactory.records.signatures import signatures_for
from phactory.records.users import SYSTEM_USER

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["BatchBusy", "BatchEngine", "BatchStatus", "TickResult"]

_BATCHES: Final = cast(Table, BatchRow.__table__)
_STEPS: Final = cast(Table, StepRow.__table__)
_DEVS: Final = cast(Table, DeviationRow.__table__)
_LOTS: Final = cast(Table, LotRow.__table__)

#: The role-matrix action of each command.
COMMAND_ACTIONS: Final[dict[Command, Action]] = {
    Command.START: Action.BATCH_START,
    Command.PAUSE: Action.BATCH_PAUSE,
    Command.RESUME: Action.BATCH_RESUME,
    Command.HOLD: Action.BATCH_HOLD,
    Command.RESTART: Action.BATCH_RESTART,
    Command.STOP: Action.BATCH_STOP,
    Command.ABORT: Action.BATCH_ABORT,
    Command.RESET: Action.BATCH_RESET,
}

#: Phase states in which a phase is "in flight" (started, not ended).
IN_FLIGHT: Final = frozenset(
    {State.RUNNING, State.HOLDING, State.HELD, State.RESTARTING, State.STOPPING, State.ABORTING}
)


class BatchBusy(Refused):
    """Another live runner holds the batch."""


@dataclass(frozen=True)
class BatchStatus:
    """A batch as the engine sees it.

    Attributes
    ----------
    waiting_for
        What the batch waits for, for people (a command, a work instruction, a
        deviation to close), or ``None`` while it runs or once it has finished.
    """

    batch: BatchInfo
    steps: list[StepInfo]
    waiting_for: str | None = None

    @property
    def state(self) -> State:
        """The batch's ISA-88 state."""
        return State(self.batch.state)

    @property
    def finished(self) -> bool:
        """Whether the batch has reached Complete, Stopped or Aborted."""
        return self.batch.ended_at is not None

    @property
    def current(self) -> StepInfo | None:
        """The step in flight, or the next to run."""
        for s in self.steps:
            if State(s.state) in IN_FLIGHT:
                return s
        for s in self.steps:
            if s.state == State.IDLE:
                return s
        return None


@dataclass
class TickResult:
    """What one tick of the runner did."""

    progressed: bool = False
    blocked: str | None = None
    finished: bool = False
    entries: list[int] = field(default_factory=list)


def _host() -> str:
    return socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BatchEngine:
    """Creates, commands and runs batches; records them through a :class:`RecordService`.

    Parameters
    ----------
    records
        The record service (database, users, audit trail).
    driver
        Makes the driver of each automatic phase; default a :class:`SimulatedUnit`
        with ``time_scale``.
    time_scale
        Wall-clock duration / recipe duration, for the default driver and hold times.
    tick_s
        Sleep between runner ticks when nothing happened [s].
    lease_s
        A runner on another host whose heartbeat is older than this is taken as dead [s].
    on_commit
        Called with the highest audit ``seq`` after each transaction of the runner
        (for monitoring and crash tests).
    """

    def __init__(
        self,
        records: RecordService,
        *,
        driver: DriverFactory | None = None,
        time_scale: float = 1.0,
        tick_s: float = 0.02,
        lease_s: float = 30.0,
        heartbeat_s: float = 2.0,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.records = records
        self.time_scale = time_scale
        self.driver_factory: DriverFactory = driver or SimulatedUnit(time_scale=time_scale)
        self.tick_s = tick_s
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self.on_commit = on_commit
        self.identity = f"{_host()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._drivers: dict[tuple[str, str], PhaseDriver] = {}
        self._recipes: dict[str, ControlRecipe] = {}
        self._system = records.system_session()
        self._last_beat = 0.0

    # -- creating batches ----------------------------------------------------------------

    def create_batch(
        self,
        session: UserSession,
        site: Site,
        recipe_id: str | None = None,
        *,
        batch_id: str | None = None,
        order_id: str | None = None,
        batch_size: float | None = None,
        parameters: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> BatchInfo:
        """Make the control recipe of a new batch, allocate its units, record it (Idle).

        Parameters
        ----------
        session
            A supervisor's session.
        site
            The site; its lots become known to the record.
        recipe_id
            The master recipe; default the recipe of the order's product.
        batch_id
            Default ``<order or recipe>-<n>``.
        order_id
            The order of the site's plan the batch is for (gives the patient id).
        batch_size, parameters, seed
            See :func:`phactory.batch.control_recipe.build_control_recipe`.
        """
        self.records.authorize(session, Action.BATCH_CREATE)
        order = None
        if order_id is not None:
            matches = [o for o in site.orders if o.id == order_id]
            if not matches:
                raise UnknownRecord(f"order {order_id} is not in the plan of site {site.id}")
            order = matches[0]
            recipe_id = recipe_id or site.recipe_for(order).id
        if recipe_id is None or recipe_id not in site.recipes:
            raise UnknownRecord(f"recipe {recipe_id} is not in site {site.id}")
        self.records.register_site_lots(site)
        with self.records.transaction() as tx:
            count = tx.conn.execute(select(func.count()).select_from(_BATCHES)).scalar_one()
            batch_id = batch_id or f"{order_id or recipe_id}-{count + 1:04d}"
            if tx.conn.execute(
                select(_BATCHES.c.batch_id).where(_BATCHES.c.batch_id == batch_id)
            ).first():
                raise Refused(f"batch {batch_id} exists already")
            busy: set[str] = set()
            cr: Any
            for cr in tx.conn.execute(
                select(_BATCHES.c.control_recipe).where(_BATCHES.c.ended_at.is_(None))
            ).scalars():
                busy.update(up["unit"] for up in cr.get("unit_procedures", []))
            try:
                recipe = build_control_recipe(
                    site,
                    recipe_id,
                    batch_id,
                    order=order,
                    batch_size=batch_size,
                    parameters=parameters,
                    seed=seed,
                    allocate=lambda s, r: allocate_units(s, r, busy),
                )
            except ValueError as exc:
                raise Refused(str(exc)) from exc
            document = recipe.model_dump(mode="json")
            now = self.records.now()
            tx.conn.execute(
                insert(_BATCHES).values(
                    batch_id=batch_id,
                    site_id=site.id,
                    recipe_id=recipe.recipe_id,
                    recipe_version=recipe.recipe_version,
                    product=recipe.product,
                    order_id=recipe.order_id,
                    patient=recipe.patient,
                    state=State.IDLE.value,
                    status="in_progress",
                    control_recipe=document,
                    created_at=now,
                    created_by=session.user_id,
                )
            )
            for i, ph in enumerate(recipe.phases()):
                tx.conn.execute(
                    insert(_STEPS).values(
                        batch_id=batch_id,
                        step=ph.path,
                        position=i,
                        kind=ph.kind,
                        unit=ph.unit,
                        state=State.IDLE.value,
                        elapsed_h=0.0,
                    )
                )
            tx.append(
                user_id=session.user_id,
                kind="batch.created",
                subject=f"batch:{batch_id}",
                new={
                    "recipe": recipe.recipe_id,
                    "version": recipe.recipe_version,
                    "product": recipe.product,
                    "order": recipe.order_id,
                    "patient": recipe.patient,
                    "batch_size": recipe.batch_size,
                    "batch_size_unit": recipe.batch_size_unit,
                    "units": {up.id: up.unit for up in recipe.unit_procedures},
                },
                data={"control_recipe": document},
                batch_id=batch_id,
            )
        return self.records.batch(batch_id)

    def control_recipe(self, batch_id: str) -> ControlRecipe:
        """The control recipe of a batch."""
        cached = self._recipes.get(batch_id)
        if cached is None:
            cached = ControlRecipe.model_validate(self.records.batch(batch_id).control_recipe)
            self._recipes[batch_id] = cached
        return cached

    # -- commands ------------------------------------------------------------------------

    def command(
        self,
        session: UserSession,
        batch_id: str,
        command: Command | str,
        reason: str = "",
    ) -> State:
        """Apply an ISA-88 command to a batch (the runner then acts on it).

        Raises
        ------
        InvalidCommand
            If the batch's state does not accept the command; the refusal is written to
            the audit trail (21 CFR 11.10(f)).
        PermissionDenied
            If the role may not give this command.
        """
        cmd = Command(command)
        self.records.authorize(
            session, COMMAND_ACTIONS[cmd], subject=f"batch:{batch_id}", batch_id=batch_id
        )
        refused: InvalidCommand | Refused | None = None
        with self.records.transaction() as tx:
            row = self._batch_row(tx, batch_id, lock=True)
            old = State(row.state)
            try:
                if row.status != "in_progress":
                    raise Refused(f"batch {batch_id} is {row.status}: no more commands")
                if row.ended_at is not None and cmd is not Command.RESET:
                    raise InvalidCommand(old, cmd, f"batch {batch_id} has ended and")
                new = next_state(old, cmd)
            except (InvalidCommand, Refused) as exc:
                if isinstance(exc, InvalidCommand) and not str(exc).startswith("batch"):
                    exc = InvalidCommand(old, cmd, f"batch {batch_id}")
                tx.append(
                    user_id=session.user_id,
                    kind="command.refused",
                    subject=f"batch:{batch_id}",
                    field="state",
                    new=cmd.value,
                    data={"state": old.value, "why": str(exc)},
                    batch_id=batch_id,
                )
                refused = exc
            else:
                self._set_batch_state(
                    tx,
                    session.user_id,
                    batch_id,
                    old,
                    new,
                    f"{cmd.value} command" + (f": {reason}" if reason else ""),
                )
        if refused is not None:
            raise refused
        return new

    # -- runner --------------------------------------------------------------------------

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
        if host == _host() and pid_text.isdigit():
            pid = int(pid_text)
            if pid != os.getpid():
                return _pid_alive(pid)
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

    # -- runner internals ----------------------------------------------------------------

    def _notify(self, tx: RecordTx) -> None:
        if self.on_commit is not None:
            self.on_commit(tx.audit.head[0])

    def _batch_row(self, tx: RecordTx, batch_id: str, *, lock: bool = False) -> Any:
        stmt = select(_BATCHES).where(_BATCHES.c.batch_id == batch_id)
        if lock and tx.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = tx.conn.execute(stmt).first()
        if row is None:
            raise UnknownRecord(f"batch {batch_id} not found")
        return row

    def _step_rows(self, tx: RecordTx, batch_id: str) -> list[Any]:
        return list(
            tx.conn.execute(
                select(_STEPS).where(_STEPS.c.batch_id == batch_id).order_by(_STEPS.c.position)
            )
        )

    def _set_batch_state(
        self, tx: RecordTx, user_id: str, batch_id: str, old: State, new: State, reason: str
    ) -> None:
        values: dict[str, Any] = {"state": new.value}
        if new in FINAL_STATES:
            values["ended_at"] = self.records.now()
        tx.conn.execute(update(_BATCHES).where(_BATCHES.c.batch_id == batch_id).values(**values))
        _audit_state(tx, user_id, "batch.state", f"batch:{batch_id}", old, new, reason, batch_id)

    def _set_phase_state(
        self,
        tx: RecordTx,
        batch_id: str,
        step: str,
        old: State,
        new: State,
        reason: str,
        user_id: str = SYSTEM_USER,
    ) -> None:
        values: dict[str, Any] = {"state": new.value}
        if old is State.IDLE and new is State.RUNNING:
            values["started_at"] = self.records.now()
        if new in FINAL_STATES:
            values["ended_at"] = self.records.now()
        tx.conn.execute(
            update(_STEPS)
            .where(_STEPS.c.batch_id == batch_id, _STEPS.c.step == step)
            .values(**values)
        )
        subject = f"step:{batch_id}/{step}"
        _audit_state(tx, user_id, "phase.state", subject, old, new, reason, batch_id)

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

    def _hold_time_check(self, tx: RecordTx, batch_id: str, phase: ControlPhase) -> str | None:
        """Hold-time links of a unit procedure at its start; ``"wait"`` if a min lag runs."""
        recipe = self.control_recipe(batch_id)
        up = recipe.unit_procedure(phase.unit_procedure)
        first = up.operations[0].phases[0].path
        if phase.path != first:
            return None
        steps = {s.step: s for s in self._step_rows(tx, batch_id)}
        now = self.records.now()
        result = None
        for link in up.after:
            pred = recipe.unit_procedure(link.procedure)
            ends = [
                steps[ph.path].ended_at
                for op in pred.operations
                for ph in op.phases
                if steps[ph.path].ended_at is not None
            ]
            if not ends:
                continue
            lag_h = (now - max(ends)).total_seconds() / 3600.0
            lag_h = lag_h / self.time_scale if self.time_scale > 0 else 0.0
            if lag_h < link.min_lag_h:
                return "wait"
            if link.max_lag_h is not None and lag_h > link.max_lag_h:
                exists = tx.conn.execute(
                    select(_DEVS.c.deviation_id).where(
                        _DEVS.c.batch_id == batch_id,
                        _DEVS.c.step == phase.path,
                        _DEVS.c.kind == "hold_time",
                    )
                ).first()
                if exists:
                    continue
                self.records.raise_in(
                    tx,
                    user_id=SYSTEM_USER,
                    batch_id=batch_id,
                    step=phase.path,
                    kind="hold_time",
                    description=(
                        f"hold time after {link.procedure} was {lag_h:.3g} h, limit "
                        f"{link.max_lag_h:g} h"
                    ),
                    severity="critical" if link.on_breach == "scrap" else "major",
                )
                if link.on_breach == "scrap":
                    result = "hold"
        return result

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

    def available_lots(self, batch_id: str, material: str) -> list[LotInfo]:
        """Lots a step of the batch may use: released, in date, first expiring first,
        of the material, with quantity left, and of the batch's patient if patient-specific."""
        patient = self.records.batch(batch_id).patient
        today = date.today().isoformat()
        return [
            lot
            for lot in self.records.lots(material)
            if lot.status == "released"
            and lot.quantity > 0
            and (lot.expiry is None or lot.expiry >= today)
            and chain_of_identity_problem(patient, lot.patient, None) is None
        ]

    def _charge_automatic(self, tx: RecordTx, batch_id: str, phase: ControlPhase) -> str | None:
        """Charge the inputs of an automatic phase from released lots (FEFO)."""
        picks = []
        for req in phase.inputs:
            need = req.quantity
            for lot in self.available_lots(batch_id, req.material):
                take = min(need, lot.quantity) if lot.unit == req.unit else need
                picks.append((lot, take, req.unit))
                need -= take
                if need <= req.quantity * 1e-9:
                    break
            if need > req.quantity * 1e-9:
                return (
                    f"not enough released {req.material} for {phase.path}: "
                    f"{need:g} {req.unit} short"
                )
        for lot, take, unit in picks:
            self.records.consume_in(
                tx,
                user_id=SYSTEM_USER,
                batch_id=batch_id,
                step=phase.path,
                lot=lot,
                quantity=take,
                unit=unit,
                data={"automatic": True},
            )
        return None

    def _produce_outputs(
        self, tx: RecordTx, batch_id: str, phase: ControlPhase, user_id: str
    ) -> None:
        done = {
            e.field
            for e in read_entries(tx.conn, subject=f"step:{batch_id}/{phase.path}")
            if e.kind == "material.produced"
        }
        patient = self.control_recipe(batch_id).patient
        for out in phase.outputs:
            if out.material in done:
                continue
            base = f"{batch_id}-{out.material}"[:90]
            lot_id, n = base, 1
            while tx.conn.execute(select(_LOTS.c.lot_id).where(_LOTS.c.lot_id == lot_id)).first():
                n += 1
                lot_id = f"{base}-{n}"
            self.records.produce_in(
                tx,
                user_id=user_id,
                batch_id=batch_id,
                step=phase.path,
                lot_id=lot_id,
                material=out.material,
                quantity=out.quantity,
                unit=out.unit,
                patient=patient,
            )

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

    def _out_of_limit(
        self,
        tx: RecordTx,
        batch_id: str,
        phase: ControlPhase,
        name: str,
        value: float,
        unit: str,
        low: float | None,
        high: float | None,
        critical: bool,
    ) -> None:
        tx.append(
            user_id=SYSTEM_USER,
            kind="alarm",
            subject=f"step:{batch_id}/{phase.path}",
            field=name,
            new=f"{value:g} {unit} outside [{low}, {high}]",
            batch_id=batch_id,
        )
        exists = tx.conn.execute(
            select(_DEVS.c.deviation_id).where(
                _DEVS.c.batch_id == batch_id,
                _DEVS.c.step == phase.path,
                _DEVS.c.kind == "out_of_limit",
                _DEVS.c.description.startswith(f"{name} "),
            )
        ).first()
        if exists is None:
            self.records.raise_in(
                tx,
                user_id=SYSTEM_USER,
                batch_id=batch_id,
                step=phase.path,
                kind="out_of_limit",
                description=f"{name} {value:g} {unit} outside [{low}, {high}]",
                severity="critical" if critical else "major",
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
            operator.act(self, batch_id, step.step)
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

    # -- status --------------------------------------------------------------------------

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
        return BatchStatus(info, steps, waiting)

    def batches(self) -> list[BatchInfo]:
        """Every batch, newest first."""
        return self.records.batches()

    # -- manual phases (electronic work instructions) ------------------------------------

    def work_instruction(self, batch_id: str, step: str) -> InstructionStatus:
        """The work instruction of a manual step and what is still missing."""
        phase = self.control_recipe(batch_id).phase(step)
        if phase.kind != "manual":
            raise Refused(f"step {step} is automatic: it has no work instruction")
        subject = f"step:{batch_id}/{step}"
        with self.records.reading() as conn:
            entries = read_entries(conn, subject=subject)
            sigs = signatures_for(conn, record_type="step", record_id=f"{batch_id}/{step}")
        return evaluate(work_instruction(phase), entries, sigs)

    def _blocking_deviation(self, batch_id: str, step: StepInfo) -> str | None:
        if step.blocked_by is None:
            return None
        dev = self.records.deviation(step.blocked_by)
        return dev.deviation_id if dev.is_open else None

    def _manual_step(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        action: Action,
        *,
        skill_check: bool = True,
    ) -> ControlPhase:
        self.records.authorize(
            session, action, subject=f"step:{batch_id}/{step}", batch_id=batch_id
        )
        phase = self.control_recipe(batch_id).phase(step)
        if phase.kind != "manual":
            raise Refused(f"step {step} is automatic: entries are made by the equipment")
        info = self.records.batch(batch_id)
        if info.status != "in_progress":
            raise Refused(f"batch {batch_id} is {info.status}")
        current = next(s for s in self.records.steps(batch_id) if s.step == step)
        if current.state != State.RUNNING:
            raise Refused(f"step {step} is {current.state}, not Running: nothing can be entered")
        blocked = self._blocking_deviation(batch_id, current)
        if blocked:
            raise Refused(f"step {step} is blocked until deviation {blocked} is closed")
        if skill_check and phase.skills and not set(phase.skills) & set(session.skills):
            raise Refused(
                f"{session.user_id} is not qualified for step {step}: needs one of "
                f"{', '.join(phase.skills)} (21 CFR 11.10(i))"
            )
        return phase

    def enter(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        item: str,
        value: float,
        *,
        reason: str = "",
        simulated: bool = False,
    ) -> None:
        """Enter a value of a manual step; out of limits it raises a deviation.

        Entering an item again is a change: it needs a reason and is listed in the
        review as a repeated entry.
        """
        phase = self._manual_step(session, batch_id, step, Action.RECORD_ENTRY)
        entry = work_instruction(phase).entry(item)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Refused(f"{item} takes a number ({entry.unit or 'dimensionless'})")
        value = float(value)
        param = phase.parameter(item)
        bad = not param.in_limits(value)
        subject = f"step:{batch_id}/{step}"
        with self.records.transaction() as tx:
            old = self.records.latest_value(tx.conn, subject, item)
            kwargs: dict[str, Any] = {}
            if old is not None:
                if not reason.strip():
                    raise Refused(f"{item} was entered already ({old}): give a reason to change it")
                kwargs = {"old": old, "reason": reason}
            tx.append(
                user_id=session.user_id,
                kind="entry",
                subject=subject,
                field=item,
                new=value,
                data={
                    "unit": entry.unit,
                    "low": entry.low,
                    "high": entry.high,
                    "setpoint": entry.setpoint,
                    "out_of_limit": bad,
                    "simulated": simulated,
                },
                batch_id=batch_id,
                **kwargs,
            )
            if bad:
                self._out_of_limit(
                    tx,
                    batch_id,
                    phase,
                    item,
                    value,
                    entry.unit,
                    entry.low,
                    entry.high,
                    entry.critical,
                )

    def scan_material(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        lot_id: str,
        *,
        quantity: float | None = None,
        patient: str | None = None,
        simulated: bool = False,
    ) -> None:
        """Scan a lot and charge it to a manual step.

        The lot must exist, be released, be in date and be of a material the step
        needs. For a patient-specific batch, the lot's patient and the patient read on
        the label must be the batch's: a mismatch blocks the step and raises a
        deviation (chain of identity).

        Raises
        ------
        Refused
            If the scan fails a check (the refusal is recorded on the step).
        """
        phase = self._manual_step(session, batch_id, step, Action.RECORD_ENTRY)
        subject = f"step:{batch_id}/{step}"
        problem: str | None = None
        coi: str | None = None
        lot: LotInfo | None = None
        try:
            lot = self.records.lot(lot_id)
        except UnknownRecord:
            problem = f"lot {lot_id} is not known"
        req = None
        if lot is not None:
            req = next((r for r in phase.inputs if r.material == lot.material), None)
            coi = chain_of_identity_problem(
                self.records.batch(batch_id).patient, lot.patient, patient
            )
            if coi:
                problem = f"chain of identity: {coi}"
            elif req is None:
                needs = ", ".join(r.material for r in phase.inputs) or "no material"
                problem = f"lot {lot_id} is {lot.material}; step {step} needs {needs}"
            elif lot.status != "released":
                problem = f"lot {lot_id} is {lot.status}, not released"
            elif lot.expiry is not None and lot.expiry < date.today().isoformat():
                problem = f"lot {lot_id} expired on {lot.expiry}"
        with self.records.transaction() as tx:
            if problem is not None:
                tx.append(
                    user_id=session.user_id,
                    kind="scan.refused",
                    subject=subject,
                    field=lot.material if lot else "lot",
                    new=lot_id,
                    data={"why": problem, "patient_label": patient, "simulated": simulated},
                    batch_id=batch_id,
                )
                if coi:
                    dev = self.records.raise_in(
                        tx,
                        user_id=session.user_id,
                        batch_id=batch_id,
                        step=step,
                        kind="chain_of_identity",
                        description=f"scan of {lot_id}: {coi}",
                        severity="critical",
                    )
                    tx.conn.execute(
                        update(_STEPS)
                        .where(_STEPS.c.batch_id == batch_id, _STEPS.c.step == step)
                        .values(blocked_by=dev.deviation_id)
                    )
                    tx.append(
                        user_id=SYSTEM_USER,
                        kind="alarm",
                        subject=subject,
                        field="chain_of_identity",
                        new=f"step blocked by {dev.deviation_id}",
                        batch_id=batch_id,
                    )
            else:
                assert lot is not None and req is not None
                charged = sum(
                    float(e.new.get("quantity", 0.0))
                    for e in read_entries(tx.conn, subject=subject)
                    if e.kind == "material.consumed"
                    and e.field == req.material
                    and isinstance(e.new, dict)
                )
                need = max(0.0, req.quantity - charged)
                take = (
                    quantity
                    if quantity is not None
                    else (min(need, lot.quantity) if lot.unit == req.unit else need)
                )
                if take <= 0:
                    problem = f"{req.material} is charged in full already"
                    tx.append(
                        user_id=session.user_id,
                        kind="scan.refused",
                        subject=subject,
                        field=req.material,
                        new=lot_id,
                        data={"why": problem},
                        batch_id=batch_id,
                    )
                else:
                    self.records.consume_in(
                        tx,
                        user_id=session.user_id,
                        batch_id=batch_id,
                        step=step,
                        lot=lot,
                        quantity=take,
                        unit=req.unit,
                        data={"patient_label": patient, "simulated": simulated},
                    )
        if problem is not None:
            raise Refused(problem)

    def check_equipment(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        unit_scanned: str,
        *,
        clean: bool = True,
        note: str = "",
        simulated: bool = False,
    ) -> bool:
        """Record the equipment check of a manual step; a failed check raises a deviation.

        Returns
        -------
        bool
            Whether the check passed (the scanned unit is the allocated one, and clean).
        """
        phase = self._manual_step(session, batch_id, step, Action.RECORD_ENTRY)
        passed = unit_scanned == phase.unit and clean
        subject = f"step:{batch_id}/{step}"
        with self.records.transaction() as tx:
            tx.append(
                user_id=session.user_id,
                kind="check",
                subject=subject,
                field="equipment",
                new={"unit_scanned": unit_scanned, "clean": clean, "note": note},
                data={"passed": passed, "expected_unit": phase.unit, "simulated": simulated},
                batch_id=batch_id,
            )
            if not passed:
                why = (
                    f"scanned unit {unit_scanned}, allocated {phase.unit}"
                    if unit_scanned != phase.unit
                    else f"unit {phase.unit} not confirmed clean"
                )
                self.records.raise_in(
                    tx,
                    user_id=session.user_id,
                    batch_id=batch_id,
                    step=step,
                    kind="failed_check",
                    description=f"equipment check failed: {why}",
                )
        return passed

    def sign_step(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        meaning: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> None:
        """Sign a manual step as its performer (*performed*) or verifier (*verified*).

        The performer signs when every entry, scan and check is done; the lots the step
        produces are recorded then, inside the signed content. On a critical step a
        second person, not the performer, verifies.
        """
        if meaning not in ("performed", "verified"):
            raise Refused("a step is signed as 'performed' or 'verified'")
        action = Action.SIGN_PERFORMED if meaning == "performed" else Action.SIGN_VERIFIED
        phase = self._manual_step(
            session, batch_id, step, action, skill_check=meaning == "performed"
        )
        status = self.work_instruction(batch_id, step)
        if not status.work_done:
            raise Refused(f"step {step} is not done: {', '.join(status.missing)}")
        if meaning == "verified":
            if status.performer is None:
                raise Refused(f"step {step} must be signed as performed before it is verified")
            if status.performer == session.user_id:
                raise Refused("the verifier must be a different person from the performer")
        self.records.authenticate_signature(session, password, user_id)
        with self.records.transaction() as tx:
            if meaning == "performed":
                self._produce_outputs(tx, batch_id, phase, session.user_id)
            self.records.sign_in(
                tx,
                session,
                record_type="step",
                record_id=f"{batch_id}/{step}",
                meaning=meaning,
                batch_id=batch_id,
            )


def _audit_state(
    tx: RecordTx,
    user_id: str,
    kind: str,
    subject: str,
    old: State,
    new: State,
    reason: str,
    batch_id: str,
) -> None:
    """Record an ISA-88 state change of a batch or a step in the audit trail."""
    tx.append(
        user_id=user_id,
        kind=kind,
        subject=subject,
        field="state",
        old=old.value,
        new=new.value,
        reason=reason,
        batch_id=batch_id,
    )
