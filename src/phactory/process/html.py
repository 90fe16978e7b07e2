"""Self-contained HTML pages of process studies: a Plotly figure and tables, escaped.

Pages are rendered by a Jinja2 template with autoescaping, so that every text that reaches
them (model, parameter and CQA names, values, the error messages of failed points) is
escaped; nothing is assembled by string formatting. The one piece inserted as markup is
Plotly's own rendering of the figure, whose embedded JSON Plotly escapes (``<``, ``>`` and
``/`` as ``\\u`` sequences). Texts inside the figure (titles, axis labels) go through
:func:`plain`, because Plotly reads a subset of HTML in them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Section", "plain", "write_page"]

_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: sans-serif; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td.text { text-align: left; }
</style></head>
<body>
{{ figure }}
{% for section in sections %}
<h2>{{ section.heading }}</h2>
{% if section.note %}<p>{{ section.note }}</p>{% endif %}
{% if section.columns %}
<table><thead><tr>{% for c in section.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in section.rows %}<tr>
{%- for cell, is_text in row %}<td class="{{ 'text' if is_text else 'num' }}">{{ cell }}</td>
{%- endfor %}</tr>
{% endfor %}</tbody></table>
{% endif %}
{% endfor %}
</body></html>
"""


class Section:
    """A heading, an optional note and an optional table of a page."""

    def __init__(self, heading: str, table: pd.DataFrame | None = None, note: str = "") -> None:
        self.heading = heading
        self.note = note
        self.columns: list[str] = [] if table is None else [str(c) for c in table.columns]
        self.rows: list[list[tuple[str, bool]]] = (
            [] if table is None else [[_cell(v) for v in row] for row in table.itertuples(False)]
        )


def _cell(value: Any) -> tuple[str, bool]:
    if isinstance(value, bool):
        return ("yes" if value else "no"), True
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ("" if isinstance(value, float) and math.isnan(value) else f"{value:.4g}"), False
    return str(value), True


def plain(text: str) -> str:
    """``text`` for a Plotly title or label: shown as written, never read as HTML."""
    return html.escape(text, quote=False)


def write_page(path: str | Path, title: str, figure: Any, sections: Sequence[Section]) -> Path:
    """Write a self-contained page (plotly.js embedded, no CDN) and return its path."""
    from jinja2 import Environment
    from markupsafe import Markup

    env = Environment(autoescape=True, keep_trailing_newline=True)
    figure_html = Markup(figure.to_html(include_plotlyjs=True, full_html=False))
    out = Path(path)
    out.write_text(
        env.from_string(_TEMPLATE).render(title=title, figure=figure_html, sections=sections),
        encoding="utf-8",
    )
    return out
