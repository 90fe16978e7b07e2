"""Fitted reliability back into the twin: a scenario that loads, validates and runs,
with the class's MTBF equal to the fit; and ``phactory pdm`` through Typer's runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from phactory.cli.pdm_commands import app as pdm
from phactory.errors import InvalidError
from phactory.model.distribution import Fixed, Lognormal
from phactory.model.scenario import load_scenario
from phactory.monitor.datasets.degradation import MaintenanceTruth, maintenance_records
from phactory.monitor.reliability import ReliabilityFit, fit_reliability
from phactory.monitor.twin_update import write_twin_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SITE = EXAMPLES / "mab-biologics"
RECORD_OPTS = ["--unit-col", "unit", "--time-col", "hours", "--event-col", "event"]
TRUTH = MaintenanceTruth(shape=2.0, scale_h=900.0, mttr_h=6.0, mttr_sd_h=2.0, pm_interval_h=700.0)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdm") / "maintenance.csv"
    maintenance_records(TRUTH, n_machines=12, horizon_h=15_000.0, seed=4).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fit(records: Path) -> ReliabilityFit:
    import pandas as pd

    frame = pd.read_csv(records)
    return fit_reliability(
        frame["hours"].to_numpy(),
        (frame["event"] == "failure").to_numpy(),
        frame["repair_h"].to_numpy(),
    )


def test_scenario_loads_with_the_fitted_reliability(fit: ReliabilityFit, tmp_path: Path) -> None:
    out = tmp_path / "scenarios" / "br.yaml"
    out.parent.mkdir()
    update = write_twin_scenario(SITE, fit, "bioreactor-2000L", out, source="maintenance.csv")
    scenario, site = load_scenario(out)
    rel = site.equipment_classes["bioreactor-2000L"].reliability
    assert rel is not None and rel == update.after
    assert rel.mtbf == fit.mtbf_h  # to the last bit
    assert rel.model == fit.model == "weibull" and rel.shape == fit.shape
    assert isinstance(rel.mttr, Lognormal)
    assert rel.mttr.mean == fit.mttr_h and rel.mttr.sd == fit.mttr_sd_h
    assert update.before is not None and update.before.mtbf == 3000.0
    # Wear-out fitted from records censored by maintenance: the plant's own rate is named.
    assert any("does not renew the failure clock" in w for w in update.warnings)
    assert (tmp_path / "scenarios" / scenario.base).resolve() == SITE.resolve()
    # Everything else is the site as it was.
    other = site.equipment_classes["mixer-2500L"]
    from phactory.model.loader import load_site

    assert other == load_site(SITE).equipment_classes["mixer-2500L"]
    # Per-field overrides of a class that has a reliability: one line each.
    assert sorted(yaml.safe_load(out.read_text())["overrides"]) == [
        f"equipment_classes.bioreactor-2000L.reliability.{k}"
        for k in ("model", "mtbf", "mttr", "shape")
    ]


def test_a_class_without_reliability_gets_one_and_exponential_resets_the_shape(
    fit: ReliabilityFit, tmp_path: Path
) -> None:
    expo = fit_reliability(
        np.array([300.0, 500.0, 100.0]), np.array([True, True, False]), model="exponential"
    )
    assert expo.model == "exponential" and expo.mttr_h is None
    update = write_twin_scenario(SITE, expo, "filtration-skid", tmp_path / "f.yaml")
    _, site = load_scenario(tmp_path / "f.yaml")
    rel = site.equipment_classes["filtration-skid"].reliability
    assert update.before is None and rel is not None
    assert (rel.mtbf, rel.model, rel.shape) == (450.0, "exponential", 1.0)
    assert isinstance(rel.mttr, Fixed) and rel.mttr.value == 4.0  # the default: no repair times
    assert any("MTTR is left" in w for w in update.warnings)


def test_unknown_class_is_refused_naming_the_classes(fit: ReliabilityFit, tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match=r"no equipment class 'reactor'.*bioreactor-2000L, "):
        write_twin_scenario(SITE, fit, "reactor", tmp_path / "x.yaml")
    assert not (tmp_path / "x.yaml").exists()


def test_user_text_is_yaml_data_not_yaml_text(fit: ReliabilityFit, tmp_path: Path) -> None:
    """A site folder whose name is YAML syntax still round-trips through the dumper."""
    odd = tmp_path / "site: {a: 1} # 'x'\n- y"
    shutil.copytree(SITE, odd)
    out = tmp_path / "s.yaml"
    write_twin_scenario(odd, fit, "bioreactor-2000L", out, name="name: injected\nbase: /etc")
    doc = yaml.safe_load(out.read_text())
    assert set(doc) == {"name", "description", "base", "overrides"}
    assert doc["name"] == "name: injected\nbase: /etc" and doc["base"] == odd.name
    _, site = load_scenario(out)
    rel = site.equipment_classes["bioreactor-2000L"].reliability
    assert rel is not None and rel.mtbf == fit.mtbf_h


def test_pdm_reliability_json(records: Path, fit: ReliabilityFit) -> None:
    r = CliRunner().invoke(
        pdm, ["reliability", str(records), *RECORD_OPTS, "--repair-col", "repair_h", "--json"]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["mtbf_h"] == fit.mtbf_h and doc["model"] == "weibull"
    assert doc["n_failures"] + doc["n_censored"] == sum(doc["events"].values())
    assert doc["mttr_h"] == fit.mttr_h and doc["aic_weibull"] < doc["aic_exponential"]
    # The truth is inside the intervals on these records (seeded).
    assert doc["shape_ci"][0] <= TRUTH.shape <= doc["shape_ci"][1]
    assert doc["mtbf_ci"][0] <= TRUTH.mtbf_h <= doc["mtbf_ci"][1]
    table = CliRunner().invoke(pdm, ["reliability", str(records), *RECORD_OPTS])
    assert table.exit_code == 0 and "chosen" in table.output and "likelihood-ratio" in table.output


def test_pdm_update_twin_writes_a_scenario_that_simulates(records: Path, tmp_path: Path) -> None:
    out = tmp_path / "twin.yaml"
    r = CliRunner().invoke(
        pdm,
        [
            "update-twin",
            str(SITE),
            str(records),
            "--class",
            "bioreactor-2000L",
            *RECORD_OPTS,
            "--repair-col",
            "repair_h",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "site" in r.output and "scenario" in r.output and "3,000" in r.output
    from phactory.cli.main import _register, app

    _register()
    sim = CliRunner().invoke(app, ["simulate", "--scenario", str(out), "--days", "30", "--json"])
    assert sim.exit_code == 0, sim.output
    assert json.loads(sim.output)["name"] == "bioreactor-2000L reliability from maintenance.csv"
    bad = CliRunner().invoke(
        pdm,
        [
            "update-twin",
            str(SITE),
            str(records),
            "--class",
            "nope",
            *RECORD_OPTS,
            "--out",
            str(tmp_path / "n.yaml"),
        ],
    )
    assert bad.exit_code == 2 and "no equipment class 'nope'" in bad.output
    assert not (tmp_path / "n.yaml").exists()
