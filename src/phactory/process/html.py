"""Self-contained HTML pages of process studies: a Plotly figure and tables, escaped.

Pages are the Jinja2 template ``templates/study.html.j2`` rendered with autoescaping
(:func:`phactory.htmlsafe.environment`), so that every text that reaches them (model,
parameter and CQA names, values, the error messages of failed points) is escaped; nothing
is assembled by string formatting. Figures hold raw text and are escaped where they are
shown (:func:`phactory.htmlsafe.figure_html`), because Plotly reads a subset of HTML in
titles, names and labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from phactory.htmlsafe import environment

__all__ = ["Section", "write_page"]


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


def write_page(path: str | Path, title: str, figure: Any, sections: Sequence[Section]) -> Path:
    """Write a self-contained page (plotly.js embedded, no CDN) and return its path."""
    page = (
        environment("phactory.process")
        .get_template("study.html.j2")
        .render(title=title, figure=figure, sections=sections)
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out
