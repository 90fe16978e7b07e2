"""A batch of an example site run on its controllers and virtual plant through the
command line (issue 14 bar): ``phactory batch start``, then ``phactory batch run
--on-controllers --operator ...``; the batch Complete, its record complete (every step
Complete, the automatic phases' samples taken from the controllers' reports) and
``phactory audit verify`` passing.

The example is ``examples/mrna-vaccine`` (recipe ``cov-seasonal-process``): its automatic
phases run hours of closed-loop control (incubation, in-vitro transcription with the IVT
model, DNase digestion, CIP of the oligo-dT skid) and weeks of timed phases (QC release),
the fastest full example batch on controllers in simulated time (the mAb batch grows
cells for three weeks under closed loops). ``benchmarks/control_batch.py`` measures it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_world import PEOPLE, add_people, invoke

from phactory.cli.main import _register, app

ROOT = Path(__file__).resolve().parents[2]
MRNA = ROOT / "examples" / "mrna-vaccine"
RECIPE = "cov-seasonal-process"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register()
    return CliRunner()


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts hashed with cheap Argon2 parameters (every signature checks a password)."""
    from phactory.credentials import default_hasher
    from phactory.records import accounts

    monkeypatch.setattr(accounts, "default_hasher", lambda: default_hasher(fast=True))


def _run(runner: CliRunner, db: str, batch_id: str, *extra: str, **env: str) -> Result:
    return invoke(
        runner,
        ["batch", "run", batch_id, "--operator", "op1", "--verifier", "op2", "--db", db, *extra],
        PHACTORY_OPERATOR_PASSWORD=PEOPLE["op1"][2],
        PHACTORY_VERIFIER_PASSWORD=PEOPLE["op2"][2],
        **env,
    )


def _start(runner: CliRunner, db: str, batch_id: str, *extra: str) -> Result:
    return invoke(
        runner,
        ["batch", "start", str(MRNA), "--recipe", RECIPE, "--batch-id", batch_id,
         "--seed", "3", "--user", "sup", "--db", db, *extra],
        PEOPLE["sup"][2],
    )  # fmt: skip


def test_an_mrna_batch_runs_to_complete_on_the_controllers(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "data"))  # certificates made here
    db = f"sqlite:///{tmp_path / 'batch.db'}"
    add_people(runner, db, ["admin", "sup", "op1", "op2"], skills_of=MRNA)
    started = _start(runner, db, "COV-0001")
    assert started.exit_code == 0, started.output
    done = _run(runner, db, "COV-0001", "--on-controllers", "--site", str(MRNA))
    assert done.exit_code == 0, done.output
    assert "batch COV-0001: Complete" in done.output

    status = invoke(runner, ["batch", "status", "COV-0001", "--json", "--db", db])
    data: dict[str, Any] = json.loads(status.stdout)
    assert data["state"] == "Complete"
    assert {s["state"] for s in data["steps"]} == {"Complete"}
    assert data["deviations"] == []

    from phactory.batch import ControlRecipe
    from phactory.records import RecordService

    records = RecordService(db, group_commit=False)
    try:
        record = records.batches.record("COV-0001")
        recipe = ControlRecipe.model_validate(records.batches.get("COV-0001").control_recipe)
    finally:
        records.close()
    automatic = {s.step for s in record.steps if s.kind == "automatic"}
    assert len(automatic) >= 15
    values = [e for e in record.entries if e.kind == "value"]
    by_step: dict[str, list[Any]] = {}
    for e in values:
        by_step.setdefault(e.subject.split("/", 1)[1], []).append(e)
    # The closed loops' reports: the value, the lowest and the highest during the run.
    for step, names in (
        ("linearisation/digest/incubate", {"temperature"}),
        ("ivt/transcription/transcribe", {"temperature", "pH"}),
        ("ivt/dnase-digestion/digest", {"temperature"}),
    ):
        got = by_step[step]
        assert {e.field for e in got} == names, step
        assert sorted(e.details["sample"] for e in got) == sorted([1, 2, 3] * len(names))
        for e in got:
            assert e.details["low"] <= float(e.new) <= e.details["high"], (step, e.field, e.new)
            assert not e.details["out_of_limit"]
    # The controller ran the phase for the duration drawn for the batch (its RunTime).
    transcribe = next(e for e in by_step["ivt/transcription/transcribe"] if e.field == "pH")
    drawn = recipe.phase("ivt/transcription/transcribe").duration_h
    assert transcribe.details["t_h"] == pytest.approx(drawn, abs=0.01)

    verified = invoke(runner, ["audit", "verify", "--db", db])
    assert verified.exit_code == 0, verified.output
    assert "ok" in verified.output.lower() or "verified" in verified.output.lower()


def test_on_controllers_refuses_a_site_that_is_not_the_batchs(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "data"))
    db = f"sqlite:///{tmp_path / 'batch.db'}"
    add_people(runner, db, ["admin", "sup", "op1", "op2"], skills_of=MRNA)
    assert _start(runner, db, "COV-0002").exit_code == 0
    other = ROOT / "examples" / "mab-biologics"
    done = _run(runner, db, "COV-0002", "--on-controllers", "--site", str(other))
    assert done.exit_code == 2
    assert "batch COV-0002 is of site mrna-vaccine" in done.output
    assert "is site mab-biologics" in done.output
    status = invoke(runner, ["batch", "status", "COV-0002", "--json", "--db", db])
    assert json.loads(status.stdout)["state"] == "Running"  # nothing ran


def test_controller_options_are_checked(runner: CliRunner, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'batch.db'}"
    cases = [
        (["--on-controllers", "--controllers", "opc.tcp://127.0.0.1:4840/"], "not both"),
        (["--site", str(MRNA)], "--site goes with --on-controllers"),
        (["--controllers-user", "otto"], "go with --controllers"),
        (["--controllers", "http://x"], "expected opc.tcp://"),
        (["--controllers", "opc.tcp://127.0.0.1:4840/"], "needs --controllers-user"),
    ]
    for extra, message in cases:
        done = invoke(runner, ["batch", "run", "B", "--db", db, *extra])
        assert done.exit_code == 2, (extra, done.output)
        assert message in done.output, (extra, done.output)


def test_unreachable_controllers_are_refused_clearly(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "data"))
    db = f"sqlite:///{tmp_path / 'batch.db'}"
    add_people(runner, db, ["admin", "sup"], skills_of=MRNA)
    assert _start(runner, db, "COV-0003").exit_code == 0
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = invoke(
        runner,
        ["batch", "run", "COV-0003", "--db", db, "--controllers",
         f"opc.tcp://127.0.0.1:{port}/phactory/", "--controllers-user", "otto"],
        PHACTORY_CONTROLLERS_PASSWORD="x",
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    assert f"cannot reach the OPC UA server at opc.tcp://127.0.0.1:{port}/phactory/" in done.output


def test_help_names_the_controller_options(runner: CliRunner) -> None:
    done = runner.invoke(app, ["batch", "run", "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0
    for option in ("--on-controllers", "--site", "--controllers", "--controllers-user",
                   "--insecure", "PHACTORY_CONTROLLERS_PASSWORD"):  # fmt: skip
        assert option in done.output, option


# -- the in-process virtual plant ----------------------------------------------------------


def _vessel_site() -> Any:
    from phactory.model import Site

    return Site.model_validate(
        {
            "id": "vessel-site",
            "equipment_classes": {"vessel": {"capacity": "100 L"}},
            "areas": {"a": {"process_cells": {"c": {"units": {"U-01": {"class": "vessel"}}}}}},
            "materials": {"drug": {"kind": "product", "unit": "g"}},
            "products": {"p": {"recipe": "r", "material": "drug"}},
            "recipes": {"r": {"id": "r", "product": "p", "status": "approved",
                              "unit_procedures": {"up": {"equipment_class": "vessel",
                                                         "operations": {"op": {"phases": {
                "heat-up": {"duration": "2 h", "parameters": {"temperature": {
                    "setpoint": "30 degC", "low": "25 degC", "high": "35 degC"}}},
            }}}}}}},
        }
    )  # fmt: skip


def test_the_virtual_plant_is_served_securely_and_stands_still_when_idle(tmp_path: Path) -> None:
    import time

    from phactory.batch import BoundParameter, ControlPhase
    from phactory.connect.opcua.remote import RemotePlant
    from phactory.connect.phase_driver import ControllerDrivers
    from phactory.connect.virtual import VirtualControllers
    from phactory.errors import DeniedError

    pki = tmp_path / "pki"
    virtual = VirtualControllers(_vessel_site(), seed=1, pki_dir=pki)
    with virtual as drivers:
        url = virtual.endpoint
        assert url.startswith("opc.tcp://127.0.0.1:")
        with pytest.raises(DeniedError, match="offers no way in for this client"):
            ControllerDrivers.connect(url, insecure=True, pki_dir=pki, timeout_s=5)
        remote = drivers.plant  # the engine's session: a one-time operator account
        assert isinstance(remote, RemotePlant) and remote.user.startswith("batch-engine-")
        plant = virtual.plant
        t0 = plant.now_s
        time.sleep(0.3)
        assert plant.now_s == t0 and virtual.stats()["plant_busy_s"] == 0.0  # idle: no time

        temperature = BoundParameter(
            name="temperature", setpoint=30.0, low=25.0, high=35.0, unit="degC"
        )
        ph = ControlPhase(path="up/op/heat-up", unit_procedure="up", operation="op",
                          phase="heat-up", kind="automatic", duration_h=2.0, unit="U-01",
                          parameters=(temperature,))  # fmt: skip
        driver = drivers(ph)
        driver.start(ph)
        deadline = time.monotonic() + 30
        while not (progress := driver.poll()).done and time.monotonic() < deadline:
            time.sleep(0.02)
        assert progress.done, progress
        (sample,) = progress.samples
        assert sample.parameter == "temperature" and sample.value == pytest.approx(30.0, abs=0.5)
        ran = plant.now_s
        assert ran > t0 + 600  # minutes of plant time: heating 20 -> 30 degC
        time.sleep(0.3)
        assert plant.now_s == ran  # the phase is done: the plant stands still again

        tt = "a/c/U-01/TT"
        now = plant.read([tt])[0]
        deadline = time.monotonic() + 5  # values are published a moment after the plant stops
        while remote.read([tt])[0] != pytest.approx(now, abs=1e-6) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert remote.read([tt])[0] == pytest.approx(now, abs=1e-6)  # reached OPC UA clients
        with pytest.raises(DeniedError, match="refused for user 'batch-engine-"):
            remote.write("a/c/U-01/heat-up/temperature", 31.0)  # an operator writes no set point
