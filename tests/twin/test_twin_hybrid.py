"""Hybrid twin: a phase's process model runs per batch; CQAs land in the event log."""

from __future__ import annotations

import pandas as pd
import pytest

from phactory.model import Site
from phactory.twin import TwinError, simulate

STIR = "recipes.r1.unit_procedures.mix.operations.main.phases.stir"


def _with_ivt(site: Site, mg: str = "100 mM", low: str = "90 mM", high: str = "110 mM") -> Site:
    return site.with_overrides(
        {
            f"{STIR}.process_model": "ivt",
            f"{STIR}.parameters": {
                "mg_total": {"setpoint": mg, "low": low, "high": high, "critical": True},
                "ntp_total": {"setpoint": "60 mM"},
            },
        }
    )


def _cqas(log_events: pd.DataFrame) -> pd.DataFrame:
    return log_events[log_events["kind"] == "cqa"]


def test_every_batch_carries_its_cqas(tiny_site: Site) -> None:
    log = simulate(_with_ivt(tiny_site), days=20, seed=3)
    cqa = _cqas(log.events)
    done = log.batches[log.batches["status"] == "completed"]["batch"]
    assert set(done) <= set(cqa["batch"])
    assert {"rna_yield", "final_ph"} <= set(cqa["detail"])
    cpp = log.events[log.events["kind"] == "process_value"]
    assert set(cpp["detail"]) == {"mg_total"}  # only parameters with both limits vary


def test_cpp_variation_shows_as_cqa_variation_and_is_reproducible(tiny_site: Site) -> None:
    site = _with_ivt(tiny_site)
    a = _cqas(simulate(site, days=20, seed=5).events)
    b = _cqas(simulate(site, days=20, seed=5).events)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    yields = a[a["detail"] == "rna_yield"]["value"]
    assert yields.std() > 0
    flat = _cqas(simulate(site, days=20, seed=5, deterministic=True).events)
    assert flat[flat["detail"] == "rna_yield"]["value"].std() == pytest.approx(0.0)


def test_cqa_out_of_limits_scraps_the_batch(tiny_site: Site) -> None:
    # Too little magnesium for 60 mM NTP: the IVT yield falls below its 1.5 g/L limit.
    site = _with_ivt(tiny_site, mg="20 mM", low="18 mM", high="22 mM")
    log = simulate(site, days=20, seed=1)
    scrapped = log.batches[log.batches["status"] == "scrapped"]
    assert len(scrapped) >= 1
    details = log.events[log.events["kind"] == "batch_scrapped"]["detail"]
    assert details.str.contains("CQA 'rna_yield' out of limits").any()


def test_unknown_process_model_is_refused_before_simulating(tiny_site: Site) -> None:
    site = tiny_site.with_overrides({f"{STIR}.process_model": "espresso"})
    with pytest.raises(TwinError, match="unknown process model 'espresso'"):
        simulate(site, days=5)


def test_out_of_bounds_set_point_is_refused(tiny_site: Site) -> None:
    site = _with_ivt(tiny_site, mg="5 M", low="4 M", high="6 M")
    with pytest.raises(TwinError, match="mg_total"):
        simulate(site, days=5)
