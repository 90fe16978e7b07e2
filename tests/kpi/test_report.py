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


def test_error_bars_stop_at_the_range_of_the_kpi() -> None:
    from phactory.report.figures import _error_bars

    bars = _error_bars([0.02, 0.5, 0.97], [0.1, 0.1, 0.1], True, high=1.0)
    assert bars["arrayminus"] == pytest.approx([0.02, 0.1, 0.1])
    assert bars["array"] == pytest.approx([0.1, 0.1, 0.03])


def test_charted_intervals_never_leave_0_to_100_percent() -> None:
    from phactory.report.figures import labour_figure, oee_figure

    site = mab_site()
    results = [compute(synthetic_log(site, seed=s, horizon_h=24 * 60), site) for s in (1, 2, 3)]
    for fig in (labour_figure(results), oee_figure(results)):
        for trace in fig.data:
            err = trace.error_y
            if err is None or err.array is None or not err.visible:
                continue
            for y, up, down in zip(trace.y, err.array, err.arrayminus, strict=True):
                assert y - down >= -1e-12
                if trace.name == "OEE":
                    assert y + up <= 1 + 1e-12


def test_the_simulate_report_shows_hostile_names_as_text(tmp_path: Path) -> None:
    """``phactory simulate --report`` of a site whose every name is a script payload: the
    site's name heads the page and a shift's name labels the labour chart, as text."""
    from typer.testing import CliRunner

    from html_payloads import PAYLOADS, assert_inert, hostile_site_file
    from phactory.cli.main import _register, app
    from phactory.model import load_site

    _register()
    site_file = hostile_site_file(tmp_path)
    site = load_site(site_file)
    shift = next(s.name for p in site.shift_patterns.values() for s in p.shifts)
    assert site.name in PAYLOADS and shift in PAYLOADS and shift != site.name
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["simulate", str(site_file), "-n", "2", "--days", "10", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert_inert(report.read_text(encoding="utf-8"), shown=[site.name, shift])
