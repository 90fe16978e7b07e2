"""phactory.htmlsafe: templates that escape, Plotly text shown as text, figure JSON that
cannot end its script element."""

from __future__ import annotations

import html
import json

import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import UndefinedError

from html_payloads import PAYLOADS, parse
from phactory.htmlsafe import (
    environment,
    escape_figure,
    figure_html,
    figure_json,
    plain,
    plotly_script,
)


@given(st.text())
def test_plain_is_markup_free_and_reads_back_as_the_text(text: str) -> None:
    shown = plain(text)
    assert "<" not in shown.replace("<br>", "") and "%{" not in shown
    # What Plotly shows: <br> as a line break, entities as their characters.
    assert html.unescape(shown.replace("<br>", "\n")) == text.replace("\r\n", "\n")


def test_plain_keeps_plotly_templates_and_markup_out() -> None:
    assert plain("<b>x</b> & %{y}") == "&lt;b&gt;x&lt;/b&gt; &amp; %&#123;y}"
    assert plain("two\nlines") == "two<br>lines"
    assert plain(3.5) == "3.5"


def _hostile_figure() -> go.Figure:
    a, b, c, d = PAYLOADS
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=np.array([a, b]),
            y=[1.0, 2.0],
            name=c,
            text=[d, a],
            hovertext=[b, c],
            customdata=np.column_stack([np.array([a, b]), np.array([1.0, 2.0])]),
            hovertemplate="<b>%{x}</b> %{customdata[0]}<extra>%{fullData.name}</extra>",
            legendgrouptitle={"text": d},
            meta=[a],
        )
    )
    fig.add_trace(go.Sunburst(ids=[a, b], parents=["", a], labels=[c, d], values=[2, 1]))
    fig.add_trace(go.Heatmap(z=[[1, 2]], colorbar={"title": {"text": a}}))
    fig.update_layout(
        title=b,
        legend={"title": {"text": c}},
        annotations=[{"text": d, "x": 0, "y": 0}],
        xaxis={"title": {"text": a}, "categoryarray": [a, b], "categoryorder": "array"},
        yaxis={"tickvals": [1, 2], "ticktext": [c, d]},
    )
    return fig


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [
            s
            for k, v in value.items()
            if k not in ("hovertemplate", "template")
            for s in _strings(v)
        ]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OU":
        return _strings(value.tolist())
    return []


def test_every_text_of_a_figure_is_escaped_but_its_templates() -> None:
    fig = _hostile_figure()
    safe = escape_figure(fig)
    texts = _strings(safe)
    assert texts and not [s for s in texts if "<" in s]
    for payload in PAYLOADS:
        assert plain(payload) in texts
    bar, sunburst, heatmap = safe["data"]
    assert bar["hovertemplate"] == fig.data[0].hovertemplate  # the code's own markup stays
    assert bar["customdata"][1] == [plain(PAYLOADS[1]), "2.0"]
    assert sunburst["parents"][1] == sunburst["ids"][0]  # the tree still links up
    assert safe["layout"]["xaxis"]["categoryarray"] == bar["x"]  # categories still match
    assert safe["layout"]["template"] == fig.to_dict()["layout"]["template"]
    assert heatmap["colorbar"]["title"]["text"] == plain(PAYLOADS[0])
    assert fig.layout.title.text == PAYLOADS[1]  # the figure itself is not changed


def test_a_figure_dict_with_numbers_keeps_them() -> None:
    safe = escape_figure({"data": [{"type": "bar", "x": [1, 2.5], "y": np.array([3.0, 4.0])}]})
    assert safe["data"][0]["x"] == [1, 2.5]
    assert safe["data"][0]["y"].tolist() == [3.0, 4.0]
    with pytest.raises(TypeError, match="not a Plotly figure"):
        escape_figure(["no"])


@given(st.text())
def test_figure_json_cannot_end_its_script_element(text: str) -> None:
    out = figure_json({"data": [{"type": "bar", "name": text}], "layout": {"title": text}})
    assert not {"<", ">", "&", "\u2028", "\u2029"} & set(out)
    back = json.loads(out)
    assert back["data"][0]["name"] == plain(text)
    assert back["layout"]["title"] == plain(text)


def test_a_figure_is_a_box_and_a_json_block() -> None:
    fig = _hostile_figure()
    fig.update_layout(height=333)
    page = parse(str(figure_html(fig, {"displaylogo": False})))
    assert [tag for tag, _ in page.tags] == ["div", "div", "script"]
    assert dict(page.tags[0][1])["style"] == "height:333px; width:100%;"
    ((attrs, text),) = page.scripts
    assert attrs["type"] == "application/json"
    data = json.loads(text)
    assert data["config"] == {"responsive": True, "displaylogo": False}
    assert data["data"][0]["name"] == plain(PAYLOADS[2])


def test_the_plotly_script_is_inline_and_constant() -> None:
    page = parse(str(plotly_script()))
    assert all("src" not in attrs for attrs, _ in page.scripts)
    assert any("plotly.js v" in text for _, text in page.scripts)
    assert "Plotly.newPlot" in page.scripts[-1][1]
    assert plotly_script() is not None and str(plotly_script()) == str(plotly_script())


def test_templates_escape_every_value_and_refuse_unknown_names() -> None:
    env = environment()
    template = env.from_string('<p title="{{ x }}">{{ x }}</p>{{ y }}')
    out = template.render(x=PAYLOADS[2], y=None)
    shown = "&#34;&gt;&lt;svg onload=alert(1)&gt;"
    assert out == f'<p title="{shown}">{shown}</p>'
    with pytest.raises(UndefinedError):
        template.render(x="1")


def test_the_web_pages_use_the_same_escaping() -> None:
    from phactory import htmlsafe
    from phactory.app.ui import safety

    assert safety.safe_figure is htmlsafe.escape_figure
    assert safety.plain is htmlsafe.plain
