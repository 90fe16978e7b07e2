"""The ISA-88 transition table: every (state, command) pair, and the completions."""

from __future__ import annotations

import itertools

import pytest

from phactory.batch import (
    COMPLETIONS,
    TRANSITIONS,
    Command,
    InvalidCommand,
    State,
    complete,
    next_state,
)

#: The expected table, written out independently of the implementation.
EXPECTED = {
    "Idle": {"Start": "Running"},
    "Running": {"Pause": "Pausing", "Hold": "Holding", "Stop": "Stopping", "Abort": "Aborting"},
    "Pausing": {"Resume": "Running", "Hold": "Holding", "Stop": "Stopping", "Abort": "Aborting"},
    "Paused": {"Resume": "Running", "Hold": "Holding", "Stop": "Stopping", "Abort": "Aborting"},
    "Holding": {"Stop": "Stopping", "Abort": "Aborting"},
    "Held": {"Restart": "Restarting", "Stop": "Stopping", "Abort": "Aborting"},
    "Restarting": {"Hold": "Holding", "Stop": "Stopping", "Abort": "Aborting"},
    "Stopping": {"Abort": "Aborting"},
    "Stopped": {"Reset": "Idle"},
    "Aborting": {},
    "Aborted": {"Reset": "Idle"},
    "Complete": {"Reset": "Idle"},
}
PAIRS = list(itertools.product(State, Command))


def test_there_are_twelve_states_and_eight_commands() -> None:
    assert len(State) == 12 and len(Command) == 8
    assert set(EXPECTED) == {s.value for s in State}


@pytest.mark.parametrize(
    ("state", "command"), PAIRS, ids=[f"{s.value}-{c.value}" for s, c in PAIRS]
)
def test_every_state_command_pair(state: State, command: Command) -> None:
    expected = EXPECTED[state.value].get(command.value)
    if expected is None:
        with pytest.raises(
            InvalidCommand, match=f"is {state.value}: command {command.value} refused"
        ):
            next_state(state, command)
        assert (state, command) not in TRANSITIONS
    else:
        assert next_state(state, command) is State(expected)


def test_transient_states_complete_by_themselves() -> None:
    assert {s.value: t.value for s, t in COMPLETIONS.items()} == {
        "Running": "Complete",
        "Pausing": "Paused",
        "Holding": "Held",
        "Restarting": "Running",
        "Stopping": "Stopped",
        "Aborting": "Aborted",
    }
    with pytest.raises(ValueError, match="not a transient state"):
        complete(State.HELD)


def test_refusal_names_the_accepted_commands() -> None:
    with pytest.raises(InvalidCommand, match=r"accepted: Abort, Restart, Stop"):
        next_state("Held", "Start")
