"""Design space: grid, probability of success, self-contained HTML, consistency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from phactory.process import design_space, get_model


@pytest.fixture(scope="module")
def lyo_space() -> object:
    return design_space(
        get_model("lyophilisation"),
        "shelf_temperature",
        "chamber_pressure",
        n=(5, 4),
        n_monte_carlo=12,
        seed=3,
        workers=1,
    )


def test_table_covers_the_grid(lyo_space: object) -> None:
    ds = lyo_space
    tab = ds.table  # type: ignore[attr-defined]
    assert len(tab) == 20
    assert {
        "shelf_temperature",
        "chamber_pressure",
        "collapse_margin",
        "in_spec",
        "probability_of_success",
    } <= set(tab.columns)
    assert tab["shelf_temperature"].min() == -25.0 and tab["shelf_temperature"].max() == 30.0
    assert tab["probability_of_success"].between(0.0, 1.0).all()


def test_nominal_values_match_direct_simulation(lyo_space: object) -> None:
    row = lyo_space.table.iloc[7]  # type: ignore[attr-defined]
    direct = get_model("lyophilisation").simulate(
        {"shelf_temperature": row["shelf_temperature"], "chamber_pressure": row["chamber_pressure"]}
    )
    assert row["collapse_margin"] == pytest.approx(direct.cqas["collapse_margin"], rel=1e-12)
    assert bool(row["in_spec"]) == direct.success


def test_cold_shelf_succeeds_and_hot_shelf_fails(lyo_space: object) -> None:
    tab = lyo_space.table  # type: ignore[attr-defined]
    cold = tab[tab["shelf_temperature"] == -25.0]
    hot = tab[tab["shelf_temperature"] == 30.0]
    assert (cold["probability_of_success"] == 1.0).all()
    assert hot["probability_of_success"].mean() < 0.5
    worst = hot.sort_values("chamber_pressure").iloc[-1]
    assert worst["probability_of_success"] == 0.0 and not worst["in_spec"]
    # Warmer shelf: smaller margin to collapse, at every pressure.
    for _, grp in tab.groupby("chamber_pressure"):
        margins = grp.sort_values("shelf_temperature")["collapse_margin"].to_numpy()
        assert np.all(np.diff(margins) < 0)


def test_same_seed_same_map() -> None:
    model = get_model("ivt")
    a = design_space(model, "mg_total", "ntp_total", n=3, n_monte_carlo=4, seed=1, workers=1)
    b = design_space(model, "mg_total", "ntp_total", n=3, n_monte_carlo=4, seed=1, workers=1)
    assert a.table.equals(b.table)


def test_html_report_is_self_contained(lyo_space: object, tmp_path: Path) -> None:
    out = lyo_space.to_html(tmp_path / "ds.html")  # type: ignore[attr-defined]
    text = out.read_text(encoding="utf-8")
    assert "<script src=" not in text  # plotly.js is embedded, no CDN
    assert len(text) > 1_000_000
    assert "probability_of_success" in text  # the grid table is included


def test_bad_axes_are_refused() -> None:
    model = get_model("lyophilisation")
    with pytest.raises(ValueError, match="different"):
        design_space(model, "shelf_temperature", "shelf_temperature", n_monte_carlo=0)
    with pytest.raises(KeyError, match="unknown parameter"):
        design_space(model, "shelf_temperature", "nope", n_monte_carlo=0)
