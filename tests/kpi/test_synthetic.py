"""KPIs of a year of a realistic-looking site log (the mab-biologics example)."""

from __future__ import annotations

import numpy as np
import pytest

from phactory.kpi import SITE_KPIS, compute, summarise

from .synthetic import mab_site, synthetic_log


@pytest.fixture(scope="module")
def runs():  # type: ignore[no-untyped-def]
    site = mab_site()
    logs = [synthetic_log(site, seed=s) for s in range(3)]
    for log in logs:
        log.check()
    return site, logs, [compute(log, site) for log in logs]


def test_year_of_mab(runs) -> None:  # type: ignore[no-untyped-def]
    site, logs, results = runs
    for log, r in zip(logs, results, strict=True):
        assert set(SITE_KPIS) == set(r.site)
        assert list(r.units.index) == list(site.units)
        np.testing.assert_allclose(
            r.units[
                [
                    c
                    for c in r.units
                    if c.endswith("_h")
                    and c.split("_h")[0]
                    in {
                        "producing",
                        "setup",
                        "cleaning",
                        "waiting_labour",
                        "waiting_upstream",
                        "blocked",
                        "down",
                        "planned_down",
                        "idle",
                    }
                ]
            ].sum(axis=1),
            log.horizon_h,
        )
        s = r.site
        assert 0 < s["oee"] <= s["availability"] <= 1
        assert s["batches_completed"] + s["batches_scrapped"] + s["batches_in_progress"] <= 52
        assert s["energy_kwh"] > 0 and s["co2e_kg"] == pytest.approx(
            s["energy_kwh"] * site.emission_factor
        )
        # The bottleneck is a unit or a pool of interchangeable units (an equipment class).
        assert r.bottleneck_unit in site.units or r.bottleneck_unit in site.equipment_classes
        assert s["labour_utilisation"] > 0
        assert s["cycle_time_h"] <= s["lead_time_h"]


def test_summary(runs) -> None:  # type: ignore[no-untyped-def]
    _, _, results = runs
    s = summarise(results)
    assert (s.loc["site", "n"] <= 3).all()
    assert ("BR-01", "oee") in s.index
