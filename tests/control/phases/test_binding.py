"""Binding equipment phases to recipe phases: parameters in the recipe's units, reports
named after what they measure."""

from __future__ import annotations

import pytest

from phactory.control.phases.binding import DURATION, RecipePhase, bind_phase, phase_attr
from phactory.control.phases.library import LOGICS
from phactory.control.pou import NS_PER_S
from phactory.errors import InvalidError
from phactory.model import Phase


def phase(**parameters: dict[str, str]) -> RecipePhase:
    ph = Phase.model_validate({"id": "p", "duration": "2 h", "parameters": parameters})
    return RecipePhase("r", "up/op/p", ph)


def test_hold_time_in_minutes_sets_the_duration_in_ns() -> None:
    b = bind_phase("hold", LOGICS["hold"], [phase(**{"hold-time": {"setpoint": "90 min",
                                                                  "low": "60 min"}})])  # fmt: skip
    hold = b.parameters["hold-time"]
    assert (hold.input, hold.unit, hold.time) == ("P_DURATION", "min", True)
    assert hold.to_input(90.0) == 5400 * NS_PER_S
    assert b.defaults()["P_DURATION"] == 5400 * NS_PER_S
    # the recipe's duration does not also set it
    assert b.parameters[DURATION].input is None


def test_the_phase_duration_sets_p_duration_when_the_recipe_has_none() -> None:
    b = bind_phase("grow", LOGICS["grow"], [phase()])
    d = b.parameters[DURATION]
    assert (d.input, d.unit, d.default) == ("P_DURATION", "h", 2.0)
    assert d.to_input(1.5) == 5400 * NS_PER_S


def test_units_are_converted_both_ways() -> None:
    b = bind_phase(
        "heat",
        LOGICS["temperature"],
        [phase(temperature={"setpoint": "98.6 degF"}, ramp={"setpoint": "60 K/h"})],
    )
    t = b.parameters["temperature"]
    assert t.to_input(98.6) == pytest.approx(37.0)
    assert b.parameters["ramp"].to_input(60.0) == pytest.approx(1.0)  # K/min
    reports = {r.name: r for r in b.reports}
    assert reports["temperature"].unit == "degF"
    assert reports["temperature"].value(37.0) == pytest.approx(98.6)
    assert reports["ramp"].value(1.0) == pytest.approx(60.0)  # R_RATE, in the recipe's K/h


def test_reports_of_loops_not_run_are_left_out() -> None:
    b = bind_phase("hold", LOGICS["hold"], [phase(pH={"setpoint": "3.6"})])
    names = {r.name for r in b.reports}
    assert {"pH", "pH_min", "pH_max", "time_s"} == names
    assert b.config == {"C_T_LOOP": False, "C_PH_LOOP": True}
    assert "ph_dosing" in b.needs and "thermal" not in b.needs


def test_parameters_the_logic_does_not_use_are_accepted_or_passed_to_the_model() -> None:
    b = bind_phase(
        "transcribe",
        LOGICS["hold"],
        [phase(mg_total={"setpoint": "100 mM"}, colour={"setpoint": "3"})],
        model="ivt",
        model_params=frozenset({"mg_total", "ntp_total"}),
    )
    assert b.parameters["mg_total"].input is None
    assert b.parameters["mg_total"].model_param == "mg_total"
    assert b.parameters["colour"].model_param is None


def test_a_unit_the_logic_cannot_use_is_refused_with_its_place() -> None:
    with pytest.raises(InvalidError, match=r"recipe r phase up/op/p parameter temperature"):
        bind_phase("heat", LOGICS["temperature"], [phase(temperature={"setpoint": "5 L"})])


def test_a_site_block_gets_only_the_parameters_it_declares() -> None:
    b = bind_phase(
        "heat",
        LOGICS["temperature"],
        [phase(temperature={"setpoint": "30 degC"}, band={"setpoint": "1 K"})],
        block="MY_HEAT",
        block_inputs=frozenset({"STATE", "P_SP"}),
    )
    assert b.block == "MY_HEAT"
    assert b.parameters["temperature"].input == "P_SP"
    assert b.parameters["band"].input is None


def test_mapping_defaults_apply_when_the_recipe_is_silent() -> None:
    b = bind_phase("freeze", LOGICS["temperature"], [phase()], defaults={"P_SP": -90.0})
    assert b.defaults()["P_SP"] == -90.0
    assert b.setpoint_temperatures() == [-90.0]


def test_phase_instance_names_are_identifiers() -> None:
    assert phase_attr("concentrate-diafilter") == "PH_concentrate_diafilter"
    assert phase_attr("expand-day-2-4").isidentifier()
