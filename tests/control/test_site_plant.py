"""A site's controllers on its virtual plant, through the ControlledPlant view."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from phactory.batch.states import Command, State
from phactory.control.phases.program import UnitProgram
from phactory.control.site import SitePlant, synthetic_site
from phactory.control.view import PackMLState, TagChange
from phactory.errors import DeniedError, InvalidError, NotFoundError

from .phases.sites import fill_line_site, freeze_dryer_site, timed_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
C = Command
DONE = (State.COMPLETE, State.STOPPED, State.ABORTED)


def run_phase(plant: SitePlant, unit: str, phase: str, params: dict[str, float] | None = None,
              limit_h: float = 100.0) -> dict[str, float]:  # fmt: skip
    ref = plant.phase_ref(unit, phase)
    plant.command(ref, C.START, params)
    plant.advance(limit_h * 3600, until=lambda: plant.phase_state(ref) in DONE)
    assert plant.phase_state(ref) is State.COMPLETE
    return plant.reports(ref)


@pytest.fixture(scope="module")
def vessel() -> SitePlant:
    """One synthetic bioreactor, charged; scanned every 5 s."""
    plant = SitePlant(synthetic_site(1), scan_period=5.0, seed=7)
    run_phase(plant, "BR-001", "charge")
    plant.command(plant.phase_ref("BR-001", "charge"), C.RESET)
    return plant


def test_a_heat_to_phase_reaches_its_set_point_and_reports_it(vessel: SitePlant) -> None:
    unit = vessel.unit_path("BR-001")
    reports = run_phase(vessel, "BR-001", "heat-up", {"temperature": 37.5})
    assert reports["temperature"] == pytest.approx(37.5, abs=0.5)  # within P_BAND
    true_t = vessel.plant_of("BR-001").contents.temperature_c
    assert true_t == pytest.approx(37.5, abs=0.5)
    assert 0.05 < reports["rate"] < 0.2  # [K/min]: the ramp the jacket sustains
    assert vessel.unit_state(unit) is PackMLState.COMPLETE
    assert vessel.equipment_state(unit) == "blocked"
    vessel.command(vessel.phase_ref(unit, "heat-up"), C.RESET)
    assert vessel.unit_state(unit) is PackMLState.IDLE


def test_a_grow_phase_runs_the_cho_model_with_its_loops_in_limits(vessel: SitePlant) -> None:
    ref = vessel.phase_ref("BR-001", "culture")
    reports = run_phase(vessel, "BR-001", "culture", {"duration_h": 24.0})
    for name, low, high in (("temperature", 36.0, 37.0), ("pH", 6.8, 7.2),
                            ("dissolved-oxygen", 30.0, 60.0)):  # fmt: skip
        assert low <= reports[f"{name}_min"] <= reports[name] <= reports[f"{name}_max"] <= high
    truth = vessel.plant_of("BR-001").process_report("cho_fed_batch")
    assert reports["titre"] == pytest.approx(truth["titre"], abs=0.05)
    assert reports["vcd"] == pytest.approx(truth["vcd"], rel=0.1)
    assert 0.6 < truth["vcd"] < 1.5  # seeded at 0.6e6 cells/mL, doubling in ~20 h
    assert reports["culture_time_h"] == pytest.approx(24.0, abs=0.2)
    info = vessel.phase_info(ref)
    assert info.model == "cho_fed_batch" and ("titre", "g/L") in info.reports
    vessel.command(ref, C.RESET)


def test_cip_shows_as_cleaning_in_the_event_log(vessel: SitePlant) -> None:
    ref = vessel.phase_ref("BR-001", "cip")
    vessel.command(ref, C.START)
    vessel.advance(60.0)
    assert vessel.equipment_state("BR-001") == "cleaning"
    vessel.advance(3 * 3600.0, until=lambda: vessel.phase_state(ref) is State.COMPLETE)
    reports = vessel.reports(ref)
    assert reports["final_conductivity"] < 0.1 and reports["temperature"] >= 73.0
    vessel.command(ref, C.RESET)


@pytest.mark.parametrize("example", ["mrna-vaccine", "mab-biologics", "car-t-autologous"])
def test_tags_of_the_example_sites_carry_units_and_ranges(example: str) -> None:
    plant = SitePlant.from_path(EXAMPLES / example)
    tags = plant.tags()
    paths = [t.path for t in tags]
    assert len(paths) == len(set(paths))
    values = plant.read(paths)
    types = {"REAL": float, "INT": int, "UDINT": int, "BOOL": bool, "STRING": str}
    for t, v in zip(tags, values, strict=True):
        assert isinstance(v, types[t.data_type]), t.path
        assert t.path.count("/") in (3, 4, 5), t.path  # area/cell/unit[/module|phase]/tag
        if t.data_type == "REAL" and t.access == "read":  # a measurement or a command
            assert t.low is not None and t.high is not None and t.low < t.high, t.path
            assert t.unit or t.path.endswith("/PH"), t.path
        if t.access == "setpoint" and t.low is not None and t.high is not None:
            assert t.low <= t.high, t.path
    setpoints = [t for t in tags if t.access == "setpoint"]
    assert setpoints and all(t.data_type == "REAL" for t in setpoints)
    assert len(plant.phases()) >= 20


def test_example_parameters_keep_the_recipe_units_and_limits() -> None:
    plant = SitePlant.from_path(EXAMPLES / "mab-biologics")
    by_path = {t.path: t for t in plant.tags()}
    hold = by_path["dsp/dsp-train-1/VI-01/hold/hold-time"]
    assert (hold.unit, hold.low, hold.high, hold.access) == ("min", 60.0, 120.0, "setpoint")
    assert by_path["dsp/dsp-train-1/VI-01/hold/pH"].low == 3.5


def test_set_points_are_writable_and_checked() -> None:
    plant = SitePlant(timed_site(), scan_period=1.0)
    unit = plant.unit_path("U-01")
    sp = f"{unit}/heat-up/temperature"
    plant.write(sp, 33.0)  # idle: the value of the next Start
    ref = plant.phase_ref("U-01", "heat-up")
    plant.command(ref, C.START)
    assert plant.read([sp]) == [33.0]
    program = plant.controller("U-01").program("unit")
    assert isinstance(program, UnitProgram)
    block = program.machines["heat-up"].block
    assert block.P_SP == 33.0  # type: ignore[attr-defined]
    plant.write(sp, 28)  # running: acts at once
    assert block.P_SP == 28.0  # type: ignore[attr-defined]
    with pytest.raises(InvalidError, match="lies outside"):
        plant.write(sp, 99.0)
    with pytest.raises(InvalidError, match="takes a number"):
        plant.write(sp, "warm")
    with pytest.raises(DeniedError, match="read-only"):
        plant.write(f"{unit}/TT", 20.0)
    with pytest.raises(NotFoundError, match="no tag"):
        plant.read([f"{unit}/nope"])
    with pytest.raises(NotFoundError, match="no unit"):
        plant.unit_state("X-99")


def test_subscribers_get_the_changes_of_each_scan() -> None:
    plant = SitePlant(timed_site(), scan_period=1.0)
    got: list[TagChange] = []
    stop = plant.subscribe(got.extend)
    plant.command(plant.phase_ref("U-01", "heat-up"), C.START)
    plant.advance(1.0)
    changed = {c.path: c.value for c in got}
    assert changed["a/c/U-01/heat-up/STATE"] == "Running"
    assert changed["a/c/U-01/STATE"] == int(PackMLState.EXECUTE)
    assert changed["a/c/U-01/EQUIPMENT_STATE"] == "producing"
    assert changed["a/c/U-01/heat-up/temperature"] == 30.0
    got.clear()
    plant.advance(3.0)  # a closed loop runs: every scan, and its noisy inputs change
    assert [c.t_s for c in got if c.path == "a/c/U-01/TT"] == [1.0, 2.0, 3.0]
    assert "a/c/U-01/heat-up/STATE" not in {c.path for c in got}
    stop()
    got.clear()
    plant.advance(2.0)
    assert got == []


def _trace(seed: int) -> list[bool | int | float | str]:
    plant = SitePlant(timed_site(), scan_period=1.0, seed=seed)
    plant.command(plant.phase_ref("U-01", "heat-up"), C.START)
    plant.advance(600.0)
    return plant.read([t.path for t in plant.tags()])


def test_the_same_seed_gives_the_same_trace() -> None:
    assert _trace(1) == _trace(1)
    assert _trace(1) != _trace(2)


def test_quiescent_units_skip_scans_in_simulated_time() -> None:
    plant = SitePlant(timed_site(), scan_period=0.1)
    ref = plant.phase_ref("U-01", "work")
    plant.command(ref, C.START, {"duration_h": 504.0})  # three weeks of QC release
    plant.advance(600 * 3600, until=lambda: plant.phase_state(ref) is State.COMPLETE)
    assert plant.phase_state(ref) is State.COMPLETE
    assert plant.now_s == pytest.approx(504 * 3600, abs=1.0)
    assert plant.scan_stats()[0].scans < 1000  # not 18 million
    assert plant.reports(ref)["time_s"] == pytest.approx(504 * 3600, abs=1.0)


def test_real_time_runs_scan_in_the_background() -> None:
    plant = SitePlant(timed_site(), scan_period=0.05)
    plant.run(realtime=True, speed=20.0)
    with pytest.raises(Exception, match="already runs"):
        plant.run()
    time.sleep(0.3)
    plant.command(plant.phase_ref("U-01", "work"), C.START)
    time.sleep(0.2)
    plant.stop()
    stats = plant.scan_stats()[0]
    assert stats.scans > 20 and stats.period_s == 0.05
    assert plant.now_s > 5.0
    assert plant.phase_state(plant.phase_ref("U-01", "work")) is State.RUNNING
    before = plant.now_s
    assert plant.advance(10.0) == pytest.approx(before + 10.0)  # simulated time goes on


def test_faults_injected_through_tags_are_the_ground_truth() -> None:
    plant = SitePlant(timed_site(), scan_period=1.0)
    tt = "a/c/U-01/TT"
    plant.inject(tt, "sensor_bias", at_s=30.0, bias=5.0)
    plant.advance(20.0)
    assert plant.faults() == []
    plant.advance(20.0)
    [record] = plant.faults()
    assert (record.unit, record.tag, record.kind, record.start_s) == (
        "U-01",
        tt,
        "sensor_bias",
        30.0,
    )
    assert plant.read([tt])[0] == pytest.approx(25.0, abs=0.5)
    with pytest.raises(InvalidError, match="acts on an instrument"):
        plant.inject("a/c/U-01/work/STATE", "sensor_bias", bias=1.0)
    with pytest.raises(NotFoundError):
        plant.inject("a/c/U-01/XYZ", "sensor_bias", bias=1.0)


def test_freeze_drying_runs_the_lyophilisation_model_to_the_pirani_end_point() -> None:
    plant = SitePlant(freeze_dryer_site(), scan_period=10.0)
    reports = run_phase(plant, "U-01", "freeze-dry")
    model = plant.plant_of("U-01").process_report("lyophilisation")
    assert model["dried_fraction"] == 1.0
    assert reports["max_product_temperature"] == pytest.approx(
        model["max_product_temperature"], abs=1.0
    )
    assert reports["collapse_margin"] > 0.0
    assert reports["chamber_pressure"] == pytest.approx(100.0, abs=2.0)  # [mtorr]
    # The end point comes after the sublimation ends, within the 10 min confirmation.
    assert reports["primary_drying_time_s"] / 3600 > model["primary_drying_time"]


def test_filling_counts_the_vials_asked_for() -> None:
    plant = SitePlant(fill_line_site(), scan_period=1.0)
    reports = run_phase(plant, "U-01", "fill")
    assert 500 <= reports["vials"] < 520  # the line decelerates after the last one
    assert reports["fill-volume"] == pytest.approx(2.25, abs=0.01)


def test_a_synthetic_site_of_100_units_has_over_5000_tags() -> None:
    plant = SitePlant(synthetic_site(100))
    assert len(plant.units()) == 100
    assert len(plant.tags()) >= 5000
    assert len({s.unit for s in plant.scan_stats()}) == 100
