"""ISA-88 procedural states and commands, and the one transition table.

States and commands are those of ANSI/ISA-88.00.01-2010, §5.3 (procedural element
states; Figure "example state transition diagram"): a procedural element (here a batch's
procedure and each of its phases) is in exactly one state. Commands move it from a
*quiescent* or *running* state into a *transient* state (``...ing``), which ends by
itself when the equipment has done what the command asks (state complete, "SC").

:data:`TRANSITIONS` is the table of command transitions, in one place; every pair not in
it is refused (the engine logs the refusal in the audit trail, 21 CFR 11.10(f)).
:data:`COMPLETIONS` is the table of transient states and the state each ends in.

=============  =====  =====  ======  =====  =======  ====  =====  =====
state          Start  Pause  Resume  Hold   Restart  Stop  Abort  Reset
=============  =====  =====  ======  =====  =======  ====  =====  =====
Idle           Run.
Running               Paus.          Hold.           Sto.  Abo.
Pausing                      Run.    Hold.           Sto.  Abo.
Paused                       Run.    Hold.           Sto.  Abo.
Holding                                              Sto.  Abo.
Held                                        Resta.   Sto.  Abo.
Restarting                           Hold.           Sto.  Abo.
Stopping                                                   Abo.
Stopped                                                           Idle
Aborting
Aborted                                                           Idle
Complete                                                          Idle
=============  =====  =====  ======  =====  =======  ====  =====  =====
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from phactory.errors import ConflictError

__all__ = [
    "ACTIVE_STATES",
    "COMPLETIONS",
    "FINAL_STATES",
    "TRANSITIONS",
    "Command",
    "InvalidCommand",
    "State",
    "complete",
    "next_state",
]


class State(StrEnum):
    """ISA-88 procedural element states."""

    IDLE = "Idle"
    RUNNING = "Running"
    COMPLETE = "Complete"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    HOLDING = "Holding"
    HELD = "Held"
    RESTARTING = "Restarting"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    ABORTING = "Aborting"
    ABORTED = "Aborted"


class Command(StrEnum):
    """ISA-88 procedural element commands."""

    START = "Start"
    PAUSE = "Pause"
    RESUME = "Resume"
    HOLD = "Hold"
    RESTART = "Restart"
    STOP = "Stop"
    ABORT = "Abort"
    RESET = "Reset"


S, C = State, Command

#: Command transitions: ``(state, command) -> new state``. Everything else is refused.
TRANSITIONS: Final[dict[tuple[State, Command], State]] = {
    (S.IDLE, C.START): S.RUNNING,
    (S.RUNNING, C.PAUSE): S.PAUSING,
    (S.RUNNING, C.HOLD): S.HOLDING,
    (S.RUNNING, C.STOP): S.STOPPING,
    (S.RUNNING, C.ABORT): S.ABORTING,
    (S.PAUSING, C.RESUME): S.RUNNING,
    (S.PAUSING, C.HOLD): S.HOLDING,
    (S.PAUSING, C.STOP): S.STOPPING,
    (S.PAUSING, C.ABORT): S.ABORTING,
    (S.PAUSED, C.RESUME): S.RUNNING,
    (S.PAUSED, C.HOLD): S.HOLDING,
    (S.PAUSED, C.STOP): S.STOPPING,
    (S.PAUSED, C.ABORT): S.ABORTING,
    (S.HOLDING, C.STOP): S.STOPPING,
    (S.HOLDING, C.ABORT): S.ABORTING,
    (S.HELD, C.RESTART): S.RESTARTING,
    (S.HELD, C.STOP): S.STOPPING,
    (S.HELD, C.ABORT): S.ABORTING,
    (S.RESTARTING, C.HOLD): S.HOLDING,
    (S.RESTARTING, C.STOP): S.STOPPING,
    (S.RESTARTING, C.ABORT): S.ABORTING,
    (S.STOPPING, C.ABORT): S.ABORTING,
    (S.STOPPED, C.RESET): S.IDLE,
    (S.ABORTED, C.RESET): S.IDLE,
    (S.COMPLETE, C.RESET): S.IDLE,
}

#: Transient states and the state each ends in when the action completes ("SC").
COMPLETIONS: Final[dict[State, State]] = {
    S.RUNNING: S.COMPLETE,
    S.PAUSING: S.PAUSED,
    S.HOLDING: S.HELD,
    S.RESTARTING: S.RUNNING,
    S.STOPPING: S.STOPPED,
    S.ABORTING: S.ABORTED,
}

#: States in which a batch has finished executing.
FINAL_STATES: Final = frozenset({S.COMPLETE, S.STOPPED, S.ABORTED})
#: States in which the engine has work to do.
ACTIVE_STATES: Final = frozenset(
    {S.RUNNING, S.PAUSING, S.HOLDING, S.RESTARTING, S.STOPPING, S.ABORTING}
)


class InvalidCommand(ConflictError):
    """A command the current state does not accept (ISA-88 transition table): a conflict
    with the batch's state (HTTP 409), recorded as refused."""

    def __init__(self, state: State, command: Command, what: str = "") -> None:
        self.state = state
        self.command = command
        allowed = sorted(c.value for (s, c) in TRANSITIONS if s == state)
        where = f"{what} " if what else ""
        super().__init__(
            f"{where}is {state.value}: command {command.value} refused "
            f"(accepted: {', '.join(allowed) or 'none'})"
        )


def next_state(state: State | str, command: Command | str) -> State:
    """The state a command leads to.

    Raises
    ------
    InvalidCommand
        If ``command`` is not accepted in ``state``.
    ValueError
        If the state or command is not an ISA-88 one.
    """
    st, cmd = State(state), Command(command)
    try:
        return TRANSITIONS[(st, cmd)]
    except KeyError:
        raise InvalidCommand(st, cmd) from None


def complete(state: State | str) -> State:
    """The state a transient (or running) state ends in when its action completes.

    Raises
    ------
    ValueError
        If ``state`` is not transient.
    """
    st = State(state)
    if st not in COMPLETIONS:
        raise ValueError(f"{st.value} is not a transient state")
    return COMPLETIONS[st]
