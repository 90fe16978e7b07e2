"""The ``phactory`` command starts at once: ``--help`` loads no heavy library.

Checked in a fresh interpreter through ``sys.modules`` (what was imported), not by
timing; ``benchmarks/cli.py`` measures the start-up times.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Libraries that take a large share of a second to import, and the app (FastAPI, NiceGUI).
HEAVY = ("pandas", "scipy", "numpy", "sqlalchemy", "plotly", "pint", "simpy", "phactory.app")

_PROBE = """
import json, sys
from typer.testing import CliRunner
from phactory.cli.main import _register, app
_register()
runner = CliRunner()
outputs = [runner.invoke(app, args) for args in {commands!r}]
print(json.dumps({{
    "codes": [r.exit_code for r in outputs],
    "loaded": sorted(m for m in {heavy!r} if m in sys.modules),
}}))
"""


def _probe(commands: list[list[str]]) -> dict[str, list[object]]:
    code = _PROBE.format(commands=commands, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    result: dict[str, list[object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_help_of_every_command_loads_no_heavy_library() -> None:
    commands = [
        ["--help"],
        ["simulate", "--help"],
        ["compare", "--help"],
        ["validate", "--help"],
        ["process", "--help"],
        ["process", "simulate", "--help"],
        ["bench", "--help"],
        ["schedule", "--help"],
        ["serve", "--help"],
        ["monitor", "--help"],
        ["monitor", "watch", "--help"],
        ["batchmon", "fit", "--help"],
        ["softsensor", "--help"],
        ["rul", "--help"],
        ["pdm", "--help"],
    ]
    found = _probe(commands)
    assert found["codes"] == [0] * len(commands)
    assert found["loaded"] == []


@pytest.mark.parametrize("module", ["phactory", "phactory.study", "phactory.cli"])
def test_package_imports_are_light(module: str) -> None:
    code = f"import sys, {module}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_lazy_package_names_still_work() -> None:
    from phactory import Site, load_site
    from phactory.study import SimulationResults, compare_studies, run_study

    assert Site.__name__ == "Site" and callable(load_site)
    assert callable(run_study) and callable(compare_studies)
    assert SimulationResults.__name__ == "SimulationResults"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import phactory.study as study

        study.nope  # noqa: B018
