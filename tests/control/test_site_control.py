"""A site names its own ST files per phase, other logics and scan periods (the site's
``control:`` section), and every problem with it is located at its FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from phactory.batch.states import Command, State
from phactory.control.site import SitePlant
from phactory.control.st import STCompileError
from phactory.model import SiteValidationError, load_site

from .phases.sites import timed_site

MY_HEAT = """\
(* A site's own heat-up: full heat below the set point, nothing above. *)
FUNCTION_BLOCK MY_HEAT
VAR_INPUT
    STATE : INT;
    FIRST : BOOL;
    P_SP : REAL := 25.0;
    TT : REAL;
END_VAR
VAR_OUTPUT
    SC : BOOL;
    TCU : REAL;
    R_TEMP : REAL;
END_VAR
SC := FALSE;
TCU := 0.0;
IF STATE = 2 THEN
    IF TT < P_SP THEN
        TCU := 100.0;
    ELSE
        R_TEMP := TT;
        SC := TRUE;
    END_IF;
ELSIF STATE = 4 OR STATE = 6 OR STATE = 8 OR STATE = 9 OR STATE = 11 THEN
    SC := TRUE;
END_IF;
END_FUNCTION_BLOCK
"""


def write_site(folder: Path, control: Any, files: dict[str, str] | None = None) -> Path:
    """The timed test site as a folder, with ``control.yaml`` holding ``control``."""
    folder.mkdir(exist_ok=True)
    (folder / "site.yaml").write_text(yaml.safe_dump(timed_site().to_data(), sort_keys=False))
    (folder / "control.yaml").write_text(yaml.safe_dump(control, sort_keys=False))
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


def test_a_site_runs_its_own_st_block_for_a_phase(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "s",
        {"units": {"U-01": {"phases": {"heat-up": {"program": "control/my_heat.st"}}}}},
    )
    (site / "control").mkdir()
    (site / "control" / "my_heat.st").write_text(MY_HEAT)
    plant = SitePlant.from_path(site, scan_period=1.0)
    ref = plant.phase_ref("U-01", "heat-up")
    info = plant.phase_info(ref)
    assert (info.block, info.source, info.logic) == ("MY_HEAT", "control/my_heat.st", "temperature")
    assert [p.name for p in info.parameters if p.used] == ["temperature"]
    plant.command(ref, Command.START, {"temperature": 27.0})
    plant.advance(4 * 3600, until=lambda: plant.phase_state(ref) is State.COMPLETE)
    assert plant.phase_state(ref) is State.COMPLETE
    assert plant.reports(ref)["temperature"] == pytest.approx(27.0, abs=0.3)


def test_a_site_chooses_another_shipped_logic_and_scan_periods(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "s",
        {
            "scan_period": "200 ms",
            "equipment_classes": {
                "vessel": {"scan_period": "500 ms", "phases": {"heat-up": {"logic": "timed"}}}
            },
        },
    )
    loaded = load_site(site)
    assert loaded.control is not None
    plant = SitePlant.from_path(site)
    assert plant.phase_info(plant.phase_ref("U-01", "heat-up")).logic == "timed"
    assert plant.phase_info(plant.phase_ref("U-01", "heat-up")).rule == "site: logic timed"
    assert plant.scan_stats()[0].period_s == 0.5


def _problem(site: Path) -> str:
    with pytest.raises(SiteValidationError) as err:
        SitePlant.from_path(site)
    [problem] = err.value.problems
    return str(problem)


def test_an_unknown_logic_is_located_in_the_control_file(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "s", {"units": {"U-01": {"phases": {"heat-up": {"logic": "boil"}}}}}
    )
    text = _problem(site)
    assert text.startswith(f"{site / 'control.yaml'}:5:16: control.units.U-01.phases")
    assert "unknown phase logic 'boil'; known: temperature, hold" in text


def test_a_missing_st_file_is_located(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "s", {"units": {"U-01": {"phases": {"work": {"program": "nope.st"}}}}}
    )
    text = _problem(site)
    assert "control.yaml:5:18: control.units.U-01.phases.work.program" in text
    assert "no such ST file 'nope.st'" in text


def test_a_block_without_the_phase_interface_is_refused(tmp_path: Path) -> None:
    st = "FUNCTION_BLOCK LAZY\nVAR_INPUT x : INT; END_VAR\nEND_FUNCTION_BLOCK\n"
    site = write_site(
        tmp_path / "s",
        {"units": {"U-01": {"phases": {"work": {"program": "lazy.st"}}}}},
        {"lazy.st": st},
    )
    assert "lacks the phase interface (STATE, SC)" in _problem(site)


def test_a_site_block_that_does_not_compile_reports_its_own_lines(tmp_path: Path) -> None:
    bad = MY_HEAT.replace("TCU := 100.0;", "TCU := hot;")
    site = write_site(
        tmp_path / "s",
        {"units": {"U-01": {"phases": {"heat-up": {"program": "my_heat.st"}}}}},
        {"my_heat.st": bad},
    )
    with pytest.raises(STCompileError) as err:
        SitePlant.from_path(site)
    assert [str(p) for p in err.value.problems] == [
        f"{site / 'my_heat.st'}:18:16: MY_HEAT: undeclared variable 'hot'"
    ]


def test_references_of_the_control_section_are_checked_with_the_site(tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "s",
        {
            "units": {"U-99": {}},
            "equipment_classes": {"vessel": {"phases": {"boil": {}}}},
        },
    )
    with pytest.raises(SiteValidationError) as err:
        load_site(site)
    texts = [str(p) for p in err.value.problems]
    assert any("control.yaml" in t and "unknown unit 'U-99'" in t for t in texts)
    assert any("no recipe runs a phase 'boil' on class vessel" in t for t in texts)


def test_a_misspelt_field_is_refused_where_it_is(tmp_path: Path) -> None:
    site = write_site(tmp_path / "s", {"scan_perod": "1 s"})
    with pytest.raises(SiteValidationError) as err:
        load_site(site)
    assert "control.yaml:1:1" in str(err.value.problems[0])
    assert "unknown field" in str(err.value.problems[0])
