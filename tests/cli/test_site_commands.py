"""The site commands as a user runs them: validate, info, schema, demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phactory.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "site.yaml").is_file())


@pytest.mark.parametrize("name", NAMES)
def test_validate_examples_exit_zero(runner: CliRunner, name: str) -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLES / name)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


@pytest.mark.parametrize("name", NAMES)
def test_info_json_is_valid_json(runner: CliRunner, name: str) -> None:
    result = runner.invoke(app, ["info", str(EXAMPLES / name), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["site"] == name
    assert data["plan"]["batches"] >= 1
    assert all(r["critical_path_h"] > 0 for r in data["recipes"])


def test_info_tables_name_units_recipes_and_teams(runner: CliRunner) -> None:
    result = runner.invoke(app, ["info", str(EXAMPLES / "mab-biologics")])
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # Rich wraps to the terminal width
    for word in ("bioreactor-2000L", "mab-a-pro", "dsp", "52 batches"):
        assert word in text


def test_schema_is_json_schema_with_site_fields(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.stdout)
    assert {"equipment_classes", "recipes", "teams", "plan"} <= set(schema["properties"])


def test_missing_path_exits_2_without_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such site" in result.output
    assert "Traceback" not in result.output


def test_every_command_has_help(runner: CliRunner) -> None:
    for cmd in ("validate", "info", "schema", "demo"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_installed_entry_point_runs_demo(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("phactory")
    result = subprocess.run(  # in a folder of its own: the report goes to the working folder
        [str(exe), "demo"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "mab-biologics" in result.stdout
    assert (tmp_path / "demo-report.html").is_file()
