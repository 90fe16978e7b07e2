"""The self-contained HTML report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from phactory.kpi import SITE_KPIS, compute
from phactory.report import write_html

from .helpers import one_unit_log, tiny_site
from .synthetic import mab_site, synthetic_log

SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc\s*=\s*[\"']?\s*(https?:)?//", re.IGNORECASE)
LINK_HREF = re.compile(r"<link[^>]*\bhref\s*=\s*[\"']?\s*(https?:)?//", re.IGNORECASE)


def _check(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert not SCRIPT_SRC.search(text), "the report loads a script from the network"
    assert not LINK_HREF.search(text), "the report loads a stylesheet from the network"
    assert "Plotly.newPlot" in text
    assert text.count("plotly.js v") >= 1  # the library itself is inline
    return text


def test_report_of_replications(tmp_path: Path) -> None:
    site = mab_site()
    logs = [synthetic_log(site, seed=s, horizon_h=24 * 120) for s in (1, 2)]
    results = [compute(log, site) for log in logs]
    path = write_html(
        tmp_path / "out" / "report.html", site, logs, results, title="mAb <test> report"
    )
    text = _check(path)
    for name in (
        "throughput_per_day",
        "oee",
        "availability",
        "effectiveness",
        "quality_ratio",
        "cycle_time_h",
        "lead_time_h",
        "on_time_delivery",
        "labour_utilisation",
        "energy_kwh",
        "co2e_kg",
        "co2e_per_batch_kg",
        "wip",
    ):
        assert f"<code>{name}</code>" in text
    assert "mAb &lt;test&gt; report" in text
    for heading in (
        "Gantt chart",
        "Loss tree",
        "Labour",
        "Energy and CO2e",
        "Bottlenecks",
        "Site KPIs",
        "Unit KPIs",
    ):
        assert heading in text
    assert path.stat().st_size < 15e6


def test_report_of_one_small_run_without_site(tmp_path: Path) -> None:
    log = one_unit_log()
    path = write_html(tmp_path / "r.html", None, [log], [compute(log)])
    text = _check(path)
    defined = [k for k, v in compute(log).site.items() if v == v]
    assert all(f"<code>{k}</code>" in text for k in defined)
    assert set(defined) <= set(SITE_KPIS)


def test_report_with_site_and_no_logs(tmp_path: Path) -> None:
    result = compute(one_unit_log(), tiny_site())
    path = write_html(tmp_path / "r.html", tiny_site(), [], [result])
    assert "Gantt chart" not in _check(path)
    with pytest.raises(ValueError):
        write_html(tmp_path / "x.html", None, [], [])
