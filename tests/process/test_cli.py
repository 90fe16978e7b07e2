"""The ``process`` command group, driven through Typer's test runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from phactory.cli.process_commands import app

runner = CliRunner()


def test_list_shows_every_model() -> None:
    res = runner.invoke(app, ["list"])
    assert res.exit_code == 0, res.output
    for name in ("ivt", "lyophilisation", "solvent_swap", "cho_fed_batch", "ishigami"):
        assert name in res.output


def test_simulate_json_with_unit_values() -> None:
    res = runner.invoke(
        app,
        [
            "simulate",
            "lyophilisation",
            "--set",
            "chamber_pressure=100 mTorr",
            "--set",
            "shelf_temperature=-5 degC",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["model"] == "lyophilisation"
    assert data["params"]["chamber_pressure"] == 0.1
    assert data["params"]["shelf_temperature"] == -5.0
    assert data["success"] is True
    assert data["cqas"]["primary_drying_time"] > 0


def test_simulate_table() -> None:
    res = runner.invoke(app, ["simulate", "ivt"])
    assert res.exit_code == 0, res.output
    assert "rna_yield" in res.output and ">= 1.5 g/L" in res.output


def test_bad_values_exit_with_a_clear_message() -> None:
    res = runner.invoke(app, ["simulate", "ivt", "--set", "mg_total=5 mol/L"])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "mg_total" in text and "out of range" in text and "[0.01, 0.15] mol/L" in text
    res = runner.invoke(app, ["simulate", "ivt", "--set", "mg_total=3 kg"])
    assert res.exit_code == 2 and "mol/L" in " ".join(res.output.split())
    res = runner.invoke(app, ["simulate", "ivt", "--set", "mg_total"])
    assert res.exit_code == 2 and "NAME=VALUE" in res.output
    res = runner.invoke(app, ["simulate", "unknown-model"])
    assert res.exit_code == 2 and "known" in res.output


def test_sensitivity_morris_with_html(tmp_path: Path) -> None:
    out = tmp_path / "morris.html"
    res = runner.invoke(
        app,
        [
            "sensitivity",
            "ishigami",
            "--method",
            "morris",
            "--samples",
            "20",
            "--workers",
            "1",
            "--html",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "mu_star" in res.output and out.exists()


def test_sensitivity_sobol_rounds_samples_to_a_power_of_two() -> None:
    res = runner.invoke(app, ["sensitivity", "ishigami", "--samples", "100", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "640 evaluations" in res.output  # 128 * (3 + 2)


def test_design_space_writes_html(tmp_path: Path) -> None:
    out = tmp_path / "ds.html"
    res = runner.invoke(
        app,
        [
            "design-space",
            "lyophilisation",
            "--grid",
            "3",
            "--mc",
            "3",
            "--workers",
            "1",
            "--html",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "P(success)" in res.output
    assert out.exists() and "<script src=" not in out.read_text(encoding="utf-8")


def test_surrogate_saves_a_file(tmp_path: Path) -> None:
    out = tmp_path / "lyo.json"
    res = runner.invoke(
        app,
        [
            "surrogate",
            "lyophilisation",
            "--samples",
            "60",
            "--test",
            "20",
            "--kind",
            "polynomial",
            "--folds",
            "3",
            "--workers",
            "1",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "held-out R2" in res.output and "speed-up" in res.output
    assert json.loads(out.read_text())["format"] == "phactory-process-surrogate"


#: Libraries one model run and its JSON summary do without (each a share of a second to
#: import, or the app): ``process simulate MODEL --json`` must start at once.
_NOT_FOR_ONE_RUN = (
    "pandas",
    "sqlalchemy",
    "pint",
    "plotly",
    "jinja2",
    "yaml",
    "SALib",
    "sklearn",
    "distributed",
    "phactory.app",
    "phactory.store",
)

_PROBE = """
import json, sys
from typer.testing import CliRunner
from phactory.cli.main import _register, app
_register()
result = CliRunner().invoke(app, {args!r})
print(json.dumps({{
    "code": result.exit_code,
    "output": result.output,
    "loaded": sorted(m for m in {names!r} if m in sys.modules),
}}))
"""


def test_simulate_json_imports_no_pandas() -> None:
    # The whole command as `phactory` runs it, in a fresh interpreter: what it imported.
    code = _PROBE.format(args=["process", "simulate", "ivt", "--json"], names=_NOT_FOR_ONE_RUN)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["code"] == 0, found["output"]
    assert json.loads(found["output"])["cqas"]["rna_yield"] > 0
    assert found["loaded"] == []
