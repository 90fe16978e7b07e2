"""Every HTML export, written from hostile input, opened in Chromium: no payload runs.

The KPI report of ``phactory simulate --report``, the schedule Gantt, a batch record and
a process study page, each holding the script payloads of ``html_payloads.PAYLOADS`` in
names, reasons, comments and titles. A payload that ran would open a dialog
(``alert(1)``); none may, no script error may be thrown, and every chart is drawn.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from html_payloads import PAYLOADS, figures, hostile_site_file

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _report_and_gantt(folder: Path) -> list[Path]:
    from phactory.cli.main import _register, app
    from phactory.schedule import Schedule, write_gantt

    _register()
    site = hostile_site_file(folder)
    report, plan = folder / "report.html", folder / "plan.json"
    for args in (
        ["simulate", str(site), "-n", "1", "--days", "10", "--report", str(report)],
        ["schedule", str(site), "--time-limit", "5", "--out", str(plan)],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    data = json.loads(plan.read_text(encoding="utf-8"))
    # Ids in a schedule file must be ids (refused otherwise); free text is shown as text.
    data["operations"][0].update(crew=PAYLOADS[1] + PAYLOADS[2])
    unit = data["operations"][0]["unit"]
    data["downtime"] = [{"unit": unit, "start_h": 30.0, "end_h": 34.0, "reason": PAYLOADS[3]}]
    gantt = write_gantt(Schedule.from_dict(data), folder / "gantt.html")
    return [report, gantt]


def _batch_record(folder: Path) -> Path:
    # The record test world (as tests/batch/conftest.py does).
    sys.path.insert(0, str(Path(__file__).resolve().parent / "records"))
    from ebr_world import FILL, make_world, perform_fill, started_batch

    from phactory.records import batch_record_html

    world = make_world(f"sqlite:///{folder / 'ebr.db'}")
    try:
        engine, batch_id = started_batch(world)
        perform_fill(engine, world, batch_id)
        world.records.signing.comment(world["sup"], PAYLOADS[0], batch_id=batch_id)
        world.records.deviations.raise_deviation(
            world["sup"], batch_id=batch_id, description=PAYLOADS[3], step=FILL
        )
        page = batch_record_html(world.records.batches.record(batch_id))
    finally:
        world.records.close()
    out = folder / "record.html"
    out.write_text(page, encoding="utf-8")
    return out


def _study_page(folder: Path) -> Path:
    import pandas as pd
    import plotly.graph_objects as go

    from phactory.process.html import Section, write_page

    fig = go.Figure(go.Bar(x=list(PAYLOADS), y=[1, 2, 3, 4], name=PAYLOADS[0]))
    fig.update_layout(title=PAYLOADS[3])
    table = pd.DataFrame({"parameter": list(PAYLOADS)})
    return write_page(folder / "study.html", PAYLOADS[1], fig, [Section(PAYLOADS[2], table)])


def test_no_payload_runs_in_any_export(tmp_path: Path) -> None:
    pages = [*_report_and_gantt(tmp_path), _batch_record(tmp_path), _study_page(tmp_path)]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            for path in pages:
                page = browser.new_page()
                dialogs: list[str] = []
                errors: list[str] = []

                def on_dialog(dialog: Any, seen: list[str] = dialogs) -> None:
                    seen.append(dialog.message)
                    dialog.dismiss()

                page.on("dialog", on_dialog)
                page.on("pageerror", lambda exc, seen=errors: seen.append(str(exc)))
                page.goto(path.as_uri())
                expected = len(figures(path.read_text(encoding="utf-8")))
                page.wait_for_function(
                    f"() => document.querySelectorAll('.js-plotly-plot').length >= {expected}"
                )
                # Hover texts and labels are drawn on hover: show each trace's first.
                page.evaluate(
                    """() => document.querySelectorAll('.js-plotly-plot').forEach((gd) =>
                        gd.data.forEach((_, i) => Plotly.Fx.hover(gd, [{curveNumber: i,
                        pointNumber: 0}])))"""
                )
                page.wait_for_timeout(300)
                assert dialogs == [], f"{path.name}: a payload opened a dialog {dialogs}"
                assert errors == [], f"{path.name}: script errors {errors}"
                body = page.inner_text("body")
                assert any(payload in body for payload in PAYLOADS), path.name
                page.close()
        finally:
            browser.close()
