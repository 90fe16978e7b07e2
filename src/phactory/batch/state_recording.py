"""Engine state shared by every part of the batch engine and its recording.

The batch and each phase follow the ISA-88 state machine (:mod:`phactory.batch.states`);
every state change is written to the batch's audit trail in the transaction that makes
it, with the old and new state and the reason (21 CFR 11.10(e)).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, cast

from sqlalchemy import Table, select, update

from phactory.batch.control_recipe import (
    ControlRecipe,
)
from phactory.batch.drivers import DriverFactory, PhaseDriver, SimulatedUnit
from phactory.batch.states import FINAL_STATES, Command, State
from phactory.records.errors import Refused, UnknownRecord
from phactory.records.record import BatchInfo, StepInfo
from phactory.records.roles import Action
from phactory.records.schema import BatchRow, DeviationRow, LotRow, StepRow
from phactory.records.service import RecordService, RecordTx
from phactory.records.users import SYSTEM_USER

__all__ = [
    "COMMAND_ACTIONS",
    "IN_FLIGHT",
    "BatchBusy",
    "BatchStatus",
    "StateRecording",
    "TickResult",
]

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


def host_name() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StateRecording:
    """What every part of the engine shares: the record service, the control recipes,
    and the recording of ISA-88 state changes of batches and phases in the audit trail.

    Parameters are those of :class:`phactory.batch.BatchEngine`.
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
        self.identity = f"{host_name()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._drivers: dict[tuple[str, str], PhaseDriver] = {}
        self._recipes: dict[str, ControlRecipe] = {}
        self._system = records.system_session()
        self._last_beat = 0.0

    def control_recipe(self, batch_id: str) -> ControlRecipe:
        """The control recipe of a batch."""
        cached = self._recipes.get(batch_id)
        if cached is None:
            cached = ControlRecipe.model_validate(self.records.batch(batch_id).control_recipe)
            self._recipes[batch_id] = cached
        return cached

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
