"""The pages' logic without a browser: scenario overrides, plan edits, charts, settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from phactory.app.settings import AppSettings
from phactory.app.ui import charts
from phactory.app.ui.pages.plan import order_overrides
from phactory.app.ui.pages.scenarios import scenario_overrides
from phactory.app.ui.widgets import format_kpi
from phactory.model import Site, load_site

from .conftest import EXAMPLES


@pytest.fixture(scope="module")
def mab() -> Site:
    return load_site(EXAMPLES / "mab-biologics")


def test_only_changed_values_become_overrides(mab: Site) -> None:
    same = scenario_overrides(
        mab,
        headcounts={t.id: t.headcount for t in mab.teams.values()},
        unit_counts={"bioreactor-2000L": 4},
    )
    assert same == {}
    changed = scenario_overrides(mab, headcounts={"dsp": 2})
    assert changed == {"teams.dsp.headcount": 2}
    assert mab.with_overrides(changed).teams["dsp"].headcount == 2


def test_more_units_are_added_beside_the_last_one(mab: Site) -> None:
    overrides = scenario_overrides(mab, unit_counts={"bioreactor-2000L": 6})
    assert set(overrides) == {
        "areas.usp.process_cells.usp-suite.units.BR-05",
        "areas.usp.process_cells.usp-suite.units.BR-06",
    }
    bigger = mab.with_overrides(overrides)
    assert len(bigger.units_of_class("bioreactor-2000L")) == 6


def test_fewer_units_drop_the_last_ones(mab: Site) -> None:
    overrides = scenario_overrides(mab, unit_counts={"bioreactor-2000L": 3})
    smaller = mab.with_overrides(overrides)
    assert [u.id for u in smaller.units_of_class("bioreactor-2000L")] == ["BR-01", "BR-02", "BR-03"]
    assert len(smaller.units) == len(mab.units) - 1


def test_product_mix_and_quantity_orders(mab: Site) -> None:
    assert mab.plan is not None
    last = len(mab.plan.orders) - 1  # B-27Q4 is given as a quantity
    overrides = scenario_overrides(mab, order_batches={0: 12, last: 5})
    assert overrides["plan.orders.0.batches"] == 12
    assert overrides[f"plan.orders.{last}.quantity"] is None
    edited = mab.with_overrides(overrides)
    assert edited.batches_for(edited.plan.orders[last]) == 5  # type: ignore[union-attr]


def test_edited_plan_cells_become_overrides(mab: Site) -> None:
    changes = {(0, "batches"): "11", (1, "due"): "2027-05-15", (2, "priority"): 7}
    overrides = order_overrides(changes, quantity_orders={7})
    assert overrides == {
        "plan.orders.0.batches": 11,
        "plan.orders.1.due": "2027-05-15",
        "plan.orders.2.priority": 7,
    }
    edited = mab.with_overrides(overrides)
    assert edited.plan is not None and edited.plan.orders[0].batches == 11
    with pytest.raises(ValueError):
        order_overrides({(0, "batches"): "many"}, set())


def test_gantt_bars_are_on_the_local_clock() -> None:
    epoch = dt.datetime(2027, 3, 27, 12, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    rows = [
        {"unit": "A", "state": "producing", "start_h": 0.0, "end_h": 2.0, "batch": "b1"},
        {"unit": "B", "state": "down", "start_h": 1.0, "end_h": 1.5},
        {"unit": "B", "state": "idle", "start_h": 1.5, "end_h": 1.5},  # empty: dropped
    ]
    figure = charts.gantt_figure(rows, epoch, by="unit", colour="state")
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["producing", "down"]
    producing = figure["data"][0]
    assert producing["base"] == ["2027-03-27T12:00"]
    assert producing["x"] == [2 * 3_600_000.0]
    assert figure["layout"]["xaxis"]["type"] == "date"


def test_gantt_limits_the_number_of_lines() -> None:
    rows = [
        {"batch": f"b{i:03d}", "start_h": i, "end_h": i + 1.0, "procedure": "p"} for i in range(30)
    ]
    figure = charts.gantt_figure(rows, dt.datetime(2027, 1, 1, tzinfo=dt.UTC), by="batch",
                                 colour="procedure", max_rows=10)  # fmt: skip
    assert len(set(figure["data"][0]["y"])) == 10
    assert "first 10 of 30" in figure["layout"]["title"]["text"]


def test_site_charts_build_for_every_example() -> None:
    for name in ("mab-biologics", "mrna-vaccine", "car-t-autologous"):
        site = load_site(EXAMPLES / name)
        assert charts.shift_week_figure(site)["data"]
        charts.maintenance_figure(site)
        for recipe in site.recipes.values():
            rows = charts.asap_procedures(recipe)
            total, path = recipe.critical_path()
            assert max(r["end_h"] for r in rows) == pytest.approx(total)
            assert [r["procedure"] for r in rows if r["critical"]] == [
                p for p in (r["procedure"] for r in rows) if p in path
            ]


def test_kpis_are_shown_with_units_and_intervals() -> None:
    assert format_kpi("oee", {"mean": 0.756, "ci_low": 0.7, "ci_high": 0.8}) == (
        "OEE",
        "75.6 %",
        "95 % CI 70.0 – 80.0",
    )
    assert format_kpi("cycle_time_h", {"mean": 48.0, "ci_low": None, "ci_high": None})[1:] == (
        "2.0 days",
        "one replication: no CI",
    )
    assert format_kpi("on_time_delivery", {"mean": None})[1] == "n/a"


def test_settings_from_the_environment(tmp_path: Path) -> None:
    env = {"PHACTORY_HOME": str(tmp_path), "PHACTORY_PORT": "9000", "PHACTORY_EXAMPLES": "none"}
    settings = AppSettings.from_env(env)
    assert settings.port == 9000
    assert settings.database_url == f"sqlite:///{tmp_path / 'phactory.db'}"
    assert settings.examples_dir is None
    assert settings.secret == AppSettings.from_env(env).secret  # kept in the data folder
    assert (tmp_path / "app-secret").stat().st_mode & 0o077 == 0
    assert "secret" not in repr(settings)
    assert AppSettings.from_env(env, host="0.0.0.0").host == "0.0.0.0"
    with pytest.raises(ValueError):
        AppSettings.from_env({**env, "PHACTORY_PORT": "0"})


def test_a_rul_interval_without_a_finite_bound_reads_open() -> None:
    from zoneinfo import ZoneInfo

    from phactory.app.services.monitor_families import RulView
    from phactory.app.ui.pages.monitoring import rul_row

    at = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
    utc = ZoneInfo("UTC")
    assert rul_row(RulView("m", "BR-02", at, 96.55, 0.0, None), utc)["interval"] == "0 – ∞"
    assert rul_row(RulView("m", "BR-02", at, 96.55, 40.0, 150.0), utc)["interval"] == "40 – 150"
    assert rul_row(RulView("m", "BR-02", None, None, None, None), utc)["interval"] == "— – —"
