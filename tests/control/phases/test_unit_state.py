"""A unit's PackML state from its phases and the ISO 22400 state of the event log."""

from __future__ import annotations

import pytest

from phactory.batch.states import State
from phactory.control.phases.unit_state import (
    PHASE_TO_PACKML,
    SEVERITY,
    iso22400_state,
    unit_packml_state,
)
from phactory.control.view import PackMLState as P
from phactory.events.states import STATES

S = State


def test_every_phase_state_has_a_packml_state_of_the_same_meaning() -> None:
    assert set(PHASE_TO_PACKML) == set(State)
    assert PHASE_TO_PACKML[S.RUNNING] is P.EXECUTE
    assert PHASE_TO_PACKML[S.RESTARTING] is P.UNHOLDING
    assert PHASE_TO_PACKML[S.PAUSED] is P.SUSPENDED
    assert set(PHASE_TO_PACKML.values()) <= set(SEVERITY)


def test_opc_30050_numbers() -> None:
    assert (P.STOPPED, P.IDLE, P.EXECUTE, P.HELD, P.COMPLETE) == (2, 4, 6, 11, 17)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], P.IDLE),
        ([S.IDLE, S.IDLE], P.IDLE),
        ([S.IDLE, S.RUNNING], P.EXECUTE),
        ([S.COMPLETE, S.IDLE], P.COMPLETE),
        ([S.COMPLETE, S.RUNNING], P.EXECUTE),
        ([S.STOPPED, S.RUNNING], P.EXECUTE),
        ([S.HELD, S.RUNNING], P.HELD),
        ([S.ABORTED, S.HELD], P.ABORTED),
        ([S.ABORTING, S.ABORTED], P.ABORTING),
    ],
)
def test_a_unit_shows_the_most_severe_state_of_its_phases(states: list[State], expected: P) -> None:
    assert unit_packml_state(states) is expected


def test_a_faulted_controller_is_aborted() -> None:
    assert unit_packml_state([S.RUNNING], faulted=True) is P.ABORTED


@pytest.mark.parametrize(
    ("packml", "cleaning", "iso"),
    [
        (P.EXECUTE, False, "producing"),
        (P.EXECUTE, True, "cleaning"),
        (P.UNHOLDING, False, "producing"),
        (P.SUSPENDED, False, "waiting_upstream"),
        (P.HELD, False, "down"),
        (P.ABORTED, True, "down"),
        (P.COMPLETE, False, "blocked"),
        (P.IDLE, False, "idle"),
        (P.STOPPED, False, "idle"),
    ],
)
def test_packml_maps_onto_the_event_log_time_model(packml: P, cleaning: bool, iso: str) -> None:
    assert iso22400_state(packml, cleaning=cleaning) == iso


def test_every_packml_state_maps_to_an_event_log_state() -> None:
    assert {iso22400_state(p) for p in P} <= set(STATES)
