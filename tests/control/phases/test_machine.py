"""The ISA-88 phase state machine of the controllers, driven through ``command()``: every
transition of :data:`phactory.batch.states.TRANSITIONS` and every refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.batch.states import COMPLETIONS, TRANSITIONS, Command, InvalidCommand, State
from phactory.control.phases.machine import STATE_CODES, UnknownParameter
from phactory.control.phases.program import EquipmentBusy
from phactory.control.site import SitePlant
from phactory.control.view import PhaseRef

from .sites import one_unit_site, timed_site

S, C = State, Command
SCAN = "scan"
RUN = "run to completion"
#: How to bring the timed phase ``work`` into each state.
PATHS: dict[State, list[Command | str]] = {
    S.IDLE: [],
    S.RUNNING: [C.START],
    S.PAUSING: [C.START, C.PAUSE],
    S.PAUSED: [C.START, C.PAUSE, SCAN],
    S.HOLDING: [C.START, C.HOLD],
    S.HELD: [C.START, C.HOLD, SCAN],
    S.RESTARTING: [C.START, C.HOLD, SCAN, C.RESTART],
    S.STOPPING: [C.START, C.STOP],
    S.STOPPED: [C.START, C.STOP, SCAN],
    S.ABORTING: [C.START, C.ABORT],
    S.ABORTED: [C.START, C.ABORT, SCAN],
    S.COMPLETE: [C.START, RUN],
}


def make() -> tuple[SitePlant, PhaseRef]:
    plant = SitePlant(timed_site(), scan_period=1.0)
    return plant, plant.phase_ref("U-01", "work")


def drive(plant: SitePlant, ref: PhaseRef, steps: list[Command | str]) -> None:
    for step in steps:
        if step == SCAN:
            plant.advance(1.0)
        elif step == RUN:
            plant.advance(10.0)
        else:
            params = {"duration_h": 0.001} if step is C.START else None
            plant.command(ref, Command(step), params)


def test_the_paths_reach_their_states() -> None:
    for state, path in PATHS.items():
        plant, ref = make()
        drive(plant, ref, path)
        assert plant.phase_state(ref) is state


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("command", list(Command))
def test_each_command_in_each_state_moves_or_is_refused(state: State, command: Command) -> None:
    plant, ref = make()
    drive(plant, ref, PATHS[state])
    expected = TRANSITIONS.get((state, command))
    if expected is None:
        with pytest.raises(InvalidCommand, match=f"U-01/work is {state.value}") as err:
            plant.command(ref, command)
        assert err.value.state is state and err.value.command is command
        assert plant.phase_state(ref) is state
    else:
        plant.command(ref, command, {"duration_h": 0.001} if command is C.START else None)
        assert plant.phase_state(ref) is expected


@pytest.mark.parametrize("state", [s for s in COMPLETIONS if s is not S.RUNNING])
def test_transient_states_complete_when_the_logic_says_so(state: State) -> None:
    plant, ref = make()
    drive(plant, ref, PATHS[state])
    plant.advance(1.0)
    assert plant.phase_state(ref) is COMPLETIONS[state]


def test_running_completes_after_its_duration_only() -> None:
    plant, ref = make()
    plant.command(ref, C.START, {"duration_h": 0.01})  # 36 s
    plant.advance(30.0)
    assert plant.phase_state(ref) is S.RUNNING
    plant.advance(10.0)
    assert plant.phase_state(ref) is S.COMPLETE
    assert plant.reports(ref) == {"time_s": pytest.approx(36.0, abs=1.0)}


def test_pauses_and_holds_do_not_count_as_running_time() -> None:
    plant, ref = make()
    plant.command(ref, C.START, {"duration_h": 0.01})
    plant.advance(20.0)
    plant.command(ref, C.HOLD)
    plant.advance(100.0)
    assert plant.phase_state(ref) is S.HELD
    plant.command(ref, C.RESTART)
    plant.advance(10.0)
    assert plant.phase_state(ref) is S.RUNNING
    plant.advance(10.0)
    assert plant.phase_state(ref) is S.COMPLETE


def test_reports_are_values_at_the_end_and_cleared_by_start() -> None:
    plant, ref = make()
    plant.command(ref, C.START, {"duration_h": 1.0})
    plant.advance(600.0)
    plant.command(ref, C.STOP)
    plant.advance(1.0)
    assert plant.phase_state(ref) is S.STOPPED
    assert plant.reports(ref)["time_s"] == pytest.approx(600.0, abs=2.0)
    plant.command(ref, C.RESET)
    plant.command(ref, C.START)
    assert plant.reports(ref) == {}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from([*Command, SCAN]), max_size=25))
def test_random_commands_follow_the_batch_engine_table(steps: list[Command | str]) -> None:
    plant, ref = make()
    model = S.IDLE
    for step in steps:
        if step == SCAN:
            plant.advance(1.0)
            if model in COMPLETIONS and model is not S.RUNNING:
                model = COMPLETIONS[model]
        elif (model, step) in TRANSITIONS:
            plant.command(ref, Command(step), {"duration_h": 1.0} if step is C.START else None)
            model = TRANSITIONS[(model, Command(step))]
        else:
            with pytest.raises(InvalidCommand):
                plant.command(ref, Command(step))
        assert plant.phase_state(ref) is model


def test_start_parameters_are_checked() -> None:
    plant = SitePlant(timed_site(), scan_period=1.0)
    heat = plant.phase_ref("U-01", "heat-up")
    with pytest.raises(UnknownParameter, match="no parameter 'pressure'; it takes temperature"):
        plant.command(heat, C.START, {"pressure": 1.0})
    with pytest.raises(UnknownParameter, match=r"temperature = 40 degC lies outside \[25.0"):
        plant.command(heat, C.START, {"temperature": 40.0})
    with pytest.raises(UnknownParameter, match="must be a number"):
        plant.command(heat, C.START, {"temperature": "hot"})  # type: ignore[dict-item]
    assert plant.phase_state(heat) is S.IDLE
    plant.command(heat, C.START, {"temperature": 32.0})
    with pytest.raises(UnknownParameter, match="only Start takes parameters"):
        plant.command(heat, C.HOLD, {"temperature": 33.0})
    assert plant.phase_state(heat) is S.RUNNING


def test_phases_driving_the_same_equipment_cannot_run_together() -> None:
    temp = {"setpoint": "30 degC", "low": "20 degC", "high": "40 degC"}
    site = one_unit_site(
        {
            "heat-up": {"duration": "1 h", "parameters": {"temperature": temp}},
            "cool-down": {"duration": "1 h", "parameters": {"temperature": temp}},
            "mix": {"duration": "1 h"},
        }
    )
    plant = SitePlant(site, scan_period=1.0)
    heat, cool, mix = (plant.phase_ref("U-01", p) for p in ("heat-up", "cool-down", "mix"))
    plant.command(heat, C.START)
    with pytest.raises(EquipmentBusy, match="TCU held by the active phase heat-up"):
        plant.command(cool, C.START)
    plant.command(mix, C.START)  # the agitator is free
    plant.command(heat, C.ABORT)
    plant.advance(1.0)
    plant.command(cool, C.START)
    assert plant.phase_state(cool) is S.RUNNING


def test_state_codes_are_the_enum_order() -> None:
    assert [STATE_CODES[s] for s in State] == list(range(1, 13))
    assert STATE_CODES[S.RUNNING] == 2 and STATE_CODES[S.ABORTED] == 12


def _states(plant: SitePlant) -> Callable[[], list[str]]:
    return lambda: [plant.phase_state(r).value for r in plant.phases()]
