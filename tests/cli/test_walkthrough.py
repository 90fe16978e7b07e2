"""The README walk-through runs as written: lots received and released, a batch of
``examples/mab-biologics`` and one of ``examples/car-t-autologous`` run with simulated
operators, reviewed, released (the review signature still valid), exported, and the
audit trail verified.

The ``bash`` block under "Walk-through" in ``README.md`` is run as it is, command by
command (``bash -e``), in a temporary folder holding a link to ``examples/`` and its own
SQLite database; then the results are checked with the same command line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


#: The README's walk-through sections, by what they walk through.
RECORD = "## Walk-through: from lot receipt to a released batch"
MONITORING = "## Walk-through: catch a drifting sensor"


def walkthrough(heading: str = RECORD) -> str:
    """The first bash block of the README's walk-through section ``heading``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(heading)
    found = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert found is not None, "the walk-through section has no bash block"
    return found.group(1)


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHACTORY_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PHACTORY_HOME=str(folder / "home"),
        PHACTORY_DATABASE_URL=f"sqlite:///{folder / 'walkthrough.db'}",
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    return env


def _phactory(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "phactory"), *args],
        cwd=folder,
        env=_env(folder),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _status(folder: Path, batch_id: str) -> dict[str, Any]:
    done = _phactory(folder, "batch", "status", batch_id, "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_the_readme_monitoring_walkthrough_runs_and_finds_the_injected_bias(
    tmp_path: Path,
) -> None:
    script = tmp_path / "monitoring.sh"
    script.write_text("set -euo pipefail\n" + walkthrough(MONITORING), encoding="utf-8")
    run = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    truth = json.loads((tmp_path / "mon" / "faults.json").read_text(encoding="utf-8"))
    bias = truth["faults"]["fault_bias.csv"]
    [faulty] = bias["variables"]
    first = re.search(r"first alarm: row (\d+)", run.stdout)
    assert first is not None, run.stdout[-2000:]
    assert bias["start_row"] <= int(first.group(1)) <= bias["start_row"] + 20
    # the variable blamed first on the alarmed rows shown is the biased sensor
    blamed = re.findall(r"│\s*\d+\s*│[^│]*│[^│]*│[^│]*│\s*(\S+) [\d.e-]+,", run.stdout)
    assert blamed and blamed.count(faulty) > 0.9 * len(blamed), blamed[:20]


def test_the_readme_walkthrough_runs(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    script = tmp_path / "walkthrough.sh"
    script.write_text("set -euo pipefail\n" + walkthrough(), encoding="utf-8")
    env = _env(tmp_path)
    del env["PHACTORY_DATABASE_URL"]  # the walk-through sets it itself, in its folder
    run = subprocess.run(
        ["bash", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert (tmp_path / "walkthrough.db").exists()

    # The lots received and released by QA, with who did it.
    lots = json.loads(_phactory(tmp_path, "lot", "list", "--json").stdout)
    by_id = {x["lot"]: x for x in lots}
    assert by_id["FEED-27-0101"]["status"] == "released"
    assert by_id["APH-EAP-0001-B"]["patient"] == "PAT-EAP-0001"

    for batch_id in ("MAB-A-0001", "CART-EAP-0001"):
        status = _status(tmp_path, batch_id)
        assert status["state"] == "Complete"
        assert status["status"] == "released" and status["disposition"] == "released"
        assert status["deviations"] == []
        meanings = [s["manifestation"].split(", ")[1] for s in status["signatures"]]
        assert "reviewed" in meanings and "released" in meanings
        # Every signature holds after the release, the QA review's included.
        assert all(s["valid"] for s in status["signatures"]), status["signatures"]

    # The patient's apheresis went into the patient's batch (chain of identity).
    trace = json.loads(_phactory(tmp_path, "trace", "APH-EAP-0001-B", "--forward", "--json").stdout)
    assert trace["batches"] == ["CART-EAP-0001"]

    # The exports, and the audit chain verified.
    for stem in ("mab", "cart"):
        html = (tmp_path / f"{stem}.html").read_text(encoding="utf-8")
        assert "meaning: <b>released</b>" in html and "meaning: <b>reviewed</b>" in html
        assert (tmp_path / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")
        assert 'xmlns="http://www.mesa.org/xml/B2MML"' in (tmp_path / f"{stem}.xml").read_text()
    assert "OK:" in run.stdout
    verify = _phactory(tmp_path, "audit", "verify")
    assert verify.returncode == 0 and "OK:" in verify.stdout
