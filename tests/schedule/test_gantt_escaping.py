"""The schedule's Gantt page shows every name, crew and reason as text.

A site's names are free text, and a schedule file is written by hand or by other tools:
its batch, crew and site fields and its breakdown reasons reach the hover text and the
titles of the charts. Plotly reads a subset of HTML there, so they are escaped where the
page is written (:func:`phactory.htmlsafe.figure_html`); the page itself is a template
with autoescaping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from html_payloads import PAYLOADS, assert_inert, figures, hostile_site_file
from phactory.cli.main import _register, app
from phactory.htmlsafe import plain
from phactory.schedule import Schedule, write_gantt
from phactory.schedule.schedule import ScheduleFormatError


def _solved(tmp_path: Path) -> tuple[Path, Path]:
    _register()
    site_file = hostile_site_file(tmp_path)
    out, gantt = tmp_path / "s.json", tmp_path / "g.html"
    result = CliRunner().invoke(
        app,
        ["schedule", str(site_file), "--time-limit", "5", "--out", str(out), "--gantt", str(gantt)],
    )
    assert result.exit_code == 0, result.output
    return out, gantt


def test_the_gantt_of_a_hostile_site_is_inert(tmp_path: Path) -> None:
    _, gantt = _solved(tmp_path)
    page = gantt.read_text(encoding="utf-8")
    assert_inert(page)
    assert len(figures(page)) == 2


def test_hostile_fields_of_a_schedule_file_are_shown_as_text(tmp_path: Path) -> None:
    out, _ = _solved(tmp_path)
    data = json.loads(out.read_text(encoding="utf-8"))
    crew = PAYLOADS[1] + "\n<b>bold</b> %{x}"
    data["operations"][0]["crew"] = crew
    batch = data["operations"][0]["batch"]
    unit = data["operations"][0]["unit"]
    data["downtime"] = [{"unit": unit, "start_h": 30.0, "end_h": 34.0, "reason": PAYLOADS[3]}]
    schedule = Schedule.from_dict(data)
    page = write_gantt(schedule, tmp_path / "hostile.html").read_text(encoding="utf-8")
    assert_inert(page, shown=[PAYLOADS[3]])
    hover = [
        line
        for figure in figures(page)
        for trace in figure["data"]
        for line in trace.get("hovertext") or []
    ]
    # Lines of hover text are broken by Plotly's <br>; each line is escaped text.
    first = next(h for h in hover if batch in h and "crew: " in h and plain(PAYLOADS[1]) in h)
    assert first.split("<br>")[2] == "crew: " + plain(PAYLOADS[1])
    assert first.split("<br>")[3] == plain("<b>bold</b> %{x}")
    assert any(h == "breakdown " + unit + ": " + plain(PAYLOADS[3]) for h in hover)
    assert not any("hovertemplate" in t for f in figures(page) for t in f["data"])


@pytest.mark.parametrize(
    "field", ["site", "operations.0.batch", "operations.0.unit", "segments.0.phase"]
)
def test_ids_of_a_schedule_file_must_be_ids(tmp_path: Path, field: str) -> None:
    out, _ = _solved(tmp_path)
    data = json.loads(out.read_text(encoding="utf-8"))
    where = data
    *path, last = field.split(".")
    for key in path:
        where = where[int(key)] if key.isdigit() else where[key]
    where[last] = PAYLOADS[2]
    with pytest.raises(ScheduleFormatError, match=field.replace(".", r"\.")):
        Schedule.from_dict(data, source="hostile.json")
