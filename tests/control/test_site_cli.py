"""``phactory control tags SITE``: the tags (or phases) of a site's controllers."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from phactory.cli.main import _register, app

from .phases.sites import timed_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _tags(*args: str) -> tuple[int, str, str]:
    _register()
    result = CliRunner().invoke(app, ["control", "tags", *args], terminal_width=200)
    return result.exit_code, result.stdout, result.stderr


def test_tags_prints_a_table_of_paths_types_units_ranges_and_access() -> None:
    code, out, err = _tags(str(EXAMPLES / "mrna-vaccine"), "--unit", "IVT-01")
    assert code == 0, err
    assert "Tags of mrna-vaccine: 19 tags, 25 units" in out
    # The path column folds on a narrow terminal; the other columns do not.
    row = next(line for line in out.splitlines() if "36..38" in line)
    assert "REAL" in row and "degC" in row and "setpoint" in row
    assert out.count("STRING") == 3  # ISO 22400 state, transcribe and digest states


def test_tags_as_json_lists_every_tag() -> None:
    code, out, err = _tags(str(EXAMPLES / "mab-biologics"), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["site"] == "mab-biologics"
    by_path = {t["path"]: t for t in data["tags"]}
    do = by_path["usp/usp-suite/BR-01/GAS-01/DO"]  # under the unit's gas module
    assert (do["type"], do["unit"], do["low"], do["high"], do["access"]) == (
        "REAL", "%", 0.0, 500.0, "read"
    )  # fmt: skip
    assert by_path["usp/usp-suite/BR-01/culture/pH"]["access"] == "setpoint"


def test_phases_lists_each_phase_with_its_logic_and_why() -> None:
    code, out, err = _tags(str(EXAMPLES / "mrna-vaccine"), "--phases", "--json")
    assert code == 0, err
    rows = {(r["unit"], r["phase"]): r for r in json.loads(out)["phases"]}
    transcribe = rows[("ds/ds-train-1/IVT-01", "transcribe")]
    assert (transcribe["logic"], transcribe["model"]) == ("hold", "ivt")
    assert transcribe["rule"] == "process_model ivt"
    assert {"name": "rna_yield", "unit": "g/L"} in transcribe["reports"]
    code, out, _ = _tags(str(EXAMPLES / "mrna-vaccine"), "--phases")
    assert code == 0 and "transcribe" in out and "hold" in out


def test_a_broken_control_section_exits_2_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(timed_site().to_data()))
    (tmp_path / "control.yaml").write_text(
        "units:\n  U-01:\n    phases:\n      work: {logic: boil}\n"
    )
    code, _out, err = _tags(str(tmp_path))
    assert code == 2
    assert "control.yaml:4:" in err and "unknown phase logic 'boil'" in err
    assert "1 error(s)" in err


def test_an_unknown_unit_is_refused() -> None:
    code, _, err = _tags(str(EXAMPLES / "mrna-vaccine"), "--unit", "NOPE")
    assert code == 2 and "no unit 'NOPE'" in err
