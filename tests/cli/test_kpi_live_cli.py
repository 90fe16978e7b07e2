"""``phactory kpi live``: the live plant's KPIs from the historian's plant events, equal
to the twin's when the events are a twin run replayed as a live plant."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phactory.cli.main import _register, app
from phactory.events import to_plant_events

_register()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mab-biologics"


def test_kpis_from_the_historian_are_the_twins(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mab_site,  # type: ignore[no-untyped-def]
) -> None:
    from phactory.historian import open_historian
    from phactory.kpi import compute
    from phactory.twin import simulate

    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path))
    monkeypatch.delenv("PHACTORY_HISTORIAN_URL", raising=False)
    twin = simulate(mab_site, days=30, seed=2)
    assert twin.epoch is not None
    with open_historian(path=tmp_path / "historian.sqlite") as h:
        h.ingest_events(to_plant_events(twin), site="mab-biologics")
    end = twin.epoch + dt.timedelta(hours=twin.horizon_h)
    result = CliRunner().invoke(
        app,
        ["kpi", "live", str(EXAMPLE), "--from", twin.epoch.isoformat(), "--to", end.isoformat(),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    expected = compute(twin, mab_site).site
    for name in ("throughput_per_day", "oee", "availability", "utilisation"):
        assert out["kpis"][name] == pytest.approx(expected[name]), name
    # A table for people, with the window.
    table = CliRunner().invoke(
        app,
        ["kpi", "live", str(EXAMPLE), "--from", twin.epoch.isoformat(), "--to", end.isoformat()],
    )
    assert table.exit_code == 0 and "Live KPIs of mab-biologics" in table.stdout


def test_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("PHACTORY_HISTORIAN_URL", raising=False)
    r = CliRunner().invoke(app, ["kpi", "live", str(EXAMPLE)])
    assert r.exit_code == 2 and "no historian at" in r.output
    r = CliRunner().invoke(app, ["kpi", "live", str(EXAMPLE), "--from", "yesterday"])
    assert r.exit_code == 2 and "--from 'yesterday'" in r.output
    r = CliRunner().invoke(app, ["kpi", "live", str(EXAMPLE), "--source", "tea-leaves"])
    assert r.exit_code == 2 and "--source 'tea-leaves'" in r.output
