"""Pages of process studies show every text once escaped, in the tables and the chart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from html_payloads import PAYLOADS, assert_inert, figures
from phactory.htmlsafe import plain
from phactory.process.html import Section, write_page


def test_a_study_page_shows_hostile_names_as_text(tmp_path: Path) -> None:
    a, b, c, d = PAYLOADS
    fig = make_subplots(rows=1, cols=2, subplot_titles=[a, b])
    fig.add_trace(go.Bar(x=[c, d], y=[1.0, 2.0], name=a), row=1, col=1)
    fig.add_trace(go.Heatmap(z=[[1, 2]], colorbar={"title": b}), row=1, col=2)
    fig.update_xaxes(title_text=c)
    fig.update_layout(title=d)
    table = pd.DataFrame({a: [b, 1.5], "parameter": [c, d]})
    page = write_page(tmp_path / "study.html", d, fig, [Section(b, table, note=c)]).read_text(
        encoding="utf-8"
    )
    assert_inert(page, shown=PAYLOADS)
    # Escaped once: Plotly shows the entities as the characters.
    (figure,) = figures(page)
    assert figure["layout"]["title"]["text"] == plain(d)
    assert [t["text"] for t in figure["layout"]["annotations"]] == [plain(a), plain(b)]
    assert figure["data"][0]["x"] == [plain(c), plain(d)]
