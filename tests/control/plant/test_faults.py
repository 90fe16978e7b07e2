"""Faults injected by name and time change the plant and are recorded as ground truth."""

from __future__ import annotations

import pytest

from phactory.control.plant import FAULT_KINDS, FaultRecord, UnitPlant, UnitSpec
from phactory.errors import InvalidError, NotFoundError

FEATURES = frozenset({"tank", "thermal", "agitation", "ph_dosing"})


@pytest.fixture
def unit() -> UnitPlant:
    spec = UnitSpec("U-01", 1000.0, FEATURES, initial_volume_l=500.0)
    return UnitPlant(spec, seed=3, paths={"TT": "a/c/U-01/TCU/TT"})


def run(p: UnitPlant, seconds: float, dt: float = 1.0, **outputs: float | bool) -> None:
    p.outputs.update(outputs)
    for _ in range(round(seconds / dt)):
        p.step(dt)


def test_a_sensor_bias_moves_the_reading_not_the_truth(unit: UnitPlant) -> None:
    unit.schedule_fault("sensor_bias", "TT", 10.0, {"bias": 2.0})
    run(unit, 5)
    before = unit.inputs["TT"] - unit.contents.temperature_c
    run(unit, 10)
    after = unit.inputs["TT"] - unit.contents.temperature_c
    assert abs(before) < 0.3
    assert after == pytest.approx(2.0, abs=0.3)
    assert unit.true_values()["TT"] == unit.contents.temperature_c
    assert unit.faults == [
        FaultRecord("U-01", "a/c/U-01/TCU/TT", "sensor_bias", 10.0, {"bias": 2.0})
    ]


def test_a_sensor_drift_grows_linearly(unit: UnitPlant) -> None:
    unit.schedule_fault("sensor_drift", "PH", 0.0, {"rate": 0.1})  # [pH/h]
    run(unit, 3600, dt=60.0)
    offset = unit.inputs["PH"] - unit.contents.ph
    assert offset == pytest.approx(0.1, abs=0.02)
    run(unit, 3600, dt=60.0)
    assert unit.inputs["PH"] - unit.contents.ph == pytest.approx(0.2, abs=0.02)


def test_a_stuck_valve_ignores_its_command(unit: UnitPlant) -> None:
    unit.schedule_fault("stuck_valve", "XV_OUT", 0.0)  # stuck where it is: shut
    run(unit, 60, P_OUT=100.0, XV_OUT=True)
    assert unit.inputs["ZS_OUT"] is False
    assert unit.contents.volume_l == pytest.approx(500.0)
    assert unit.faults[0].params == {"position": -1.0}


def test_a_valve_stuck_open_keeps_flowing(unit: UnitPlant) -> None:
    unit.schedule_fault("stuck_valve", "XV_IN", 0.0, {"position": 1.0})
    run(unit, 60, P_IN=100.0, XV_IN=False)
    assert unit.inputs["ZS_IN"] is True
    assert unit.contents.volume_l > 520.0


def _heat(unit: UnitPlant, seconds: float = 3600.0) -> float:
    t0 = unit.contents.temperature_c
    run(unit, seconds, dt=5.0, TCU=100.0)
    return unit.contents.temperature_c - t0


def test_fouling_slows_heating(unit: UnitPlant) -> None:
    clean = UnitPlant(unit.spec, seed=3)
    unit.schedule_fault("fouling", "TCU", 0.0, {"loss": 0.8})
    assert _heat(unit) < 0.7 * _heat(clean)
    assert unit.thermal is not None and unit.thermal.fouling == pytest.approx(0.8)


def test_progressive_fouling_ramps(unit: UnitPlant) -> None:
    unit.schedule_fault("fouling", "TCU", 0.0, {"loss": 0.6, "ramp_h": 2.0})
    run(unit, 3600, dt=60.0)
    assert unit.thermal is not None
    assert unit.thermal.fouling == pytest.approx(0.3, abs=0.01)
    run(unit, 7200, dt=60.0)
    assert unit.thermal.fouling == pytest.approx(0.6)


def test_a_heater_failure_stops_heating(unit: UnitPlant) -> None:
    unit.schedule_fault("heater_failure", "TCU", 0.0)
    assert _heat(unit) == pytest.approx(0.0, abs=1e-9)  # at ambient: nothing moves
    assert _heat(UnitPlant(unit.spec, seed=3)) > 10.0


def test_pump_degradation_delivers_less(unit: UnitPlant) -> None:
    healthy = UnitPlant(unit.spec, seed=3)
    unit.schedule_fault("pump_degradation", "P_IN", 0.0, {"loss": 0.5})
    for p in (unit, healthy):
        run(p, 300, P_IN=100.0, XV_IN=True)
    assert unit.contents.volume_l - 500.0 == pytest.approx(
        0.5 * (healthy.contents.volume_l - 500.0)
    )


def test_a_fault_acts_from_its_time_and_records_it(unit: UnitPlant) -> None:
    unit.schedule_fault("sensor_bias", "LT", 100.0, {"bias": 50.0})
    run(unit, 99)
    assert unit.faults == []
    assert abs(unit.inputs["LT"] - 500.0) < 5.0
    assert unit.next_fault_s() == 100.0
    run(unit, 2)
    assert [f.start_s for f in unit.faults] == [100.0]
    assert unit.inputs["LT"] == pytest.approx(550.0, abs=5.0)
    assert unit.next_fault_s() is None


@pytest.mark.parametrize(
    ("kind", "channel", "params", "message"),
    [
        ("meltdown", "TT", {}, "unknown fault kind"),
        ("sensor_bias", "TCU", {"bias": 1.0}, "acts on a REAL input"),
        ("sensor_bias", "ZS_IN", {"bias": 1.0}, "acts on a REAL input"),
        ("sensor_bias", "TT", {}, "needs the parameter 'bias'"),
        ("stuck_valve", "P_IN", {}, "acts on a valve"),
        ("fouling", "TT", {}, "acts on the TCU"),
        ("pump_degradation", "XV_IN", {}, "acts on a pump"),
        ("pump_degradation", "P_IN", {"loss": 1.5}, r"loss must be in \[0, 1\]"),
        ("fouling", "TCU", {"ramp_h": -1.0}, "ramp_h must be >= 0"),
        ("heater_failure", "TCU", {"power": 0.0}, "unknown parameter"),
    ],
)
def test_a_fault_that_cannot_act_is_refused(
    unit: UnitPlant, kind: str, channel: str, params: dict[str, float], message: str
) -> None:
    with pytest.raises(InvalidError, match=message):
        unit.schedule_fault(kind, channel, 0.0, params)
    assert unit.next_fault_s() is None


def test_a_fault_on_a_missing_tag_is_not_found(unit: UnitPlant) -> None:
    with pytest.raises(NotFoundError, match="no tag 'CT'"):
        unit.schedule_fault("sensor_bias", "CT", 0.0, {"bias": 1.0})


def test_every_kind_is_documented() -> None:
    assert set(FAULT_KINDS) == {
        "sensor_drift",
        "sensor_bias",
        "stuck_valve",
        "fouling",
        "heater_failure",
        "pump_degradation",
    }
