"""What every part of the batch engine shares: the record, control recipes, the time scale,
and the recording of ISA-88 state changes.

The batch and each phase follow the ISA-88 state machine (:mod:`phactory.batch.states`);
every state change is written to the batch's audit trail in the transaction that makes
it, with the old and new state and the reason (21 CFR 11.10(e)). The engine writes the
record only through the record's transaction object
(:class:`phactory.records.RecordTx`); it never sees the record tables.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Final

from phactory.batch.control_recipe import ControlPhase, ControlRecipe
from phactory.batch.states import FINAL_STATES, Command, State
from phactory.batch.time_scale import check_time_scale
from phactory.errors import ConflictError
from phactory.records import (
    SYSTEM_USER,
    Action,
    BatchInfo,
    RecordService,
    RecordTx,
    RecordView,
    StepInfo,
    UserSession,
)

__all__ = [
    "COMMAND_ACTIONS",
    "IN_FLIGHT",
    "BatchBusy",
    "BatchStatus",
    "EngineContext",
    "TickResult",
    "host_name",
    "pid_alive",
]

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


class BatchBusy(ConflictError):
    """Another live runner holds the batch (a conflict with a running engine)."""


@dataclass(frozen=True)
class BatchStatus:
    """A batch as the engine sees it.

    Attributes
    ----------
    waiting_for
        What the batch waits for, for people (a command, a work instruction, a
        deviation to close, a unit), or ``None`` while it runs or once it has finished.
    hold_reason
        Why the batch is Holding or Held, if it is.
    """

    batch: BatchInfo
    steps: list[StepInfo]
    waiting_for: str | None = None
    hold_reason: str | None = None

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
    """What one tick of the runner did.

    ``blocked``: the batch waits for people (a command, an entry, a signature);
    ``waiting``: it waits for time or equipment (a minimum lag, a unit).
    """

    progressed: bool = False
    blocked: str | None = None
    finished: bool = False
    waiting: str | None = None


def host_name() -> str:
    """This machine's name, as recorded in a runner's lease."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine is alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EngineContext:
    """The record service, control recipes, time scales and state recording of one engine.

    Parameters
    ----------
    records
        The record service.
    time_scale
        Recipe time / wall-clock time of batches that have none of their own
        (:mod:`phactory.batch.time_scale`).
    on_commit
        Called with the highest audit ``seq`` after each transaction of the runner.
    """

    def __init__(
        self,
        records: RecordService,
        *,
        time_scale: float = 1.0,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.records = records
        self.time_scale = check_time_scale(time_scale)
        self.on_commit = on_commit
        self._recipes: dict[str, ControlRecipe] = {}
        self._scales: dict[str, float | None] = {}

    def now_date(self) -> date:
        """Today, on the record's clock (UTC), for expiry checks."""
        return self.records.access.now().date()

    @contextmanager
    def transaction(self, session: UserSession | None = None) -> Iterator[RecordTx]:
        """A record transaction, recording the session's acting account (if a session)."""
        acting = session.acting_account if session is not None else None
        with self.records.access.transaction(acting_account=acting) as tx:
            yield tx

    def notify(self, tx: RecordTx) -> None:
        """Report the chain head after a transaction of the runner."""
        if self.on_commit is not None:
            self.on_commit(tx.audit.head[0])

    def recorded_time_scale(self, batch_id: str, view: RecordView | None = None) -> float | None:
        """The time scale recorded with the batch at its creation, if any (cached: it
        never changes); read through ``view`` if given."""
        if batch_id not in self._scales:
            info = self.records.batches.get(batch_id) if view is None else view.batch(batch_id)
            self._scales[batch_id] = info.time_scale
        return self._scales[batch_id]

    def time_scale_of(self, batch_id: str, view: RecordView | None = None) -> float:
        """Recipe time / wall-clock time the batch runs at: its own, else this engine's."""
        recorded = self.recorded_time_scale(batch_id, view)
        return self.time_scale if recorded is None else recorded

    # -- control recipes -----------------------------------------------------------------

    def stored_recipe(self, batch_id: str) -> ControlRecipe:
        """The control recipe as made when the batch was created (cached)."""
        cached = self._recipes.get(batch_id)
        if cached is None:
            cached = ControlRecipe.model_validate(self.records.batches.get(batch_id).control_recipe)
            self._recipes[batch_id] = cached
        return cached

    def control_recipe(self, batch_id: str, view: RecordView | None = None) -> ControlRecipe:
        """The control recipe with the units allocated to its unit procedures so far."""
        if view is None:
            with self.records.access.reading() as fresh:
                return self.control_recipe(batch_id, fresh)
        units = {a.unit_procedure: a.unit for a in view.allocations(batch_id=batch_id) if a.unit}
        return self.stored_recipe(batch_id).with_units(units)

    def phase(self, batch_id: str, step: str, view: RecordView | None = None) -> ControlPhase:
        """A phase of the control recipe, with the unit allocated to it (if any yet)."""
        return self.control_recipe(batch_id, view).phase(step)

    # -- state changes -------------------------------------------------------------------

    @staticmethod
    def set_batch_state(
        tx: RecordTx,
        batch_id: str,
        old: State,
        new: State,
        reason: str,
        user_id: str = SYSTEM_USER,
    ) -> None:
        """Change the batch's state, audited."""
        tx.set_batch_state(
            batch_id,
            old.value,
            new.value,
            reason=reason,
            user_id=user_id,
            ended=new in FINAL_STATES,
        )

    @staticmethod
    def set_phase_state(
        tx: RecordTx,
        batch_id: str,
        step: str,
        old: State,
        new: State,
        reason: str,
        user_id: str = SYSTEM_USER,
    ) -> None:
        """Change a phase's state, audited."""
        tx.set_step_state(
            batch_id,
            step,
            old.value,
            new.value,
            reason=reason,
            user_id=user_id,
            started=old is State.IDLE and new is State.RUNNING,
            ended=new in FINAL_STATES,
        )
