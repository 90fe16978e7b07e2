"""Gantt charts of a schedule: by unit and by batch, as self-contained HTML (Plotly).

``write_gantt(schedule, "plan.html", site=site)`` writes one HTML file with both charts
and Plotly's JavaScript inlined (no CDN, so it opens offline and can be archived with
the batch records). Bars are coloured by product (by unit) or by unit procedure (by
batch); cleaning, planned maintenance and breakdowns are drawn on the unit chart. Times
are local wall-clock times of the site.

Names and reasons are data: the figures hold them as raw text (lines of hover text
separated by ``"\n"``), and the page, a Jinja2 template with autoescaping
(``templates/gantt.html.j2``), shows them through :func:`phactory.htmlsafe.figure_html`,
which escapes every text of a figure before Plotly reads it as markup.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import plotly.graph_objects as go

from phactory.htmlsafe import environment
from phactory.model import Site
from phactory.schedule.calendar import maintenance_intervals
from phactory.schedule.schedule import Schedule

__all__ = ["gantt_figure", "gantt_html", "write_gantt"]

_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)


def _local(schedule: Schedule, h: float) -> str:
    return schedule.datetime(h).replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")


def _ms(hours: float) -> float:
    return hours * 3_600_000.0


def _bars(
    schedule: Schedule,
    rows: list[tuple[str, float, float, str]],
    name: str,
    color: str,
    **kw: Any,
) -> go.Bar:
    return go.Bar(
        y=[r[0] for r in rows],
        x=[_ms(r[2] - r[1]) for r in rows],
        base=[_local(schedule, r[1]) for r in rows],
        orientation="h",
        name=name,
        marker={"color": color, **kw.pop("marker", {})},
        hovertext=[r[3] for r in rows],
        hoverinfo="text",
        **kw,
    )


def _records(df: Any) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in df.to_dict(orient="records")]


def gantt_figure(
    schedule: Schedule, *, by: Literal["unit", "batch"] = "unit", site: Site | None = None
) -> go.Figure:
    """A Gantt chart of the schedule, one row per unit or per batch."""
    ops = _records(schedule.to_frame())
    fig = go.Figure()
    order: list[str]
    if by == "unit":
        products = sorted({str(r["product"]) for r in ops})
        for k, prod in enumerate(products):
            rows = [
                (
                    str(r["unit"]),
                    float(r["start_h"]),
                    float(r["end_h"]),
                    f"{r['batch']} / {r['procedure']}\n{r['unit']}: "
                    f"{_local(schedule, float(r['start_h']))} to "
                    f"{_local(schedule, float(r['end_h']))}\ncrew: {r['crew'] or '-'}",
                )
                for r in ops
                if str(r["product"]) == prod
            ]
            fig.add_trace(_bars(schedule, rows, prod, _PALETTE[k % len(_PALETTE)]))
        clean = [
            (str(r["unit"]), float(r["end_h"]), float(r["clean_end_h"]), f"cleaning {r['unit']}")
            for r in ops
            if float(r["clean_end_h"]) > float(r["end_h"])
        ]
        setup = [
            (
                str(r["unit"]),
                float(r["start_h"]) - float(r["setup_h"]),
                float(r["start_h"]),
                f"changeover {r['unit']}",
            )
            for r in ops
            if float(r["setup_h"]) > 0
        ]
        if clean:
            fig.add_trace(_bars(schedule, clean, "cleaning", "#c7c7c7"))
        if setup:
            fig.add_trace(_bars(schedule, setup, "changeover", "#ffbb78"))
        if site is not None and ops:
            end = max(float(r["clean_end_h"]) for r in ops)
            units = {str(r["unit"]) for r in ops}
            maint = [
                (u, a, b, f"maintenance {u}")
                for u, spans in maintenance_intervals(site, end).items()
                if u in units
                for a, b in spans
            ]
            if maint:
                fig.add_trace(
                    _bars(
                        schedule,
                        maint,
                        "maintenance",
                        "#555555",
                        marker={"pattern": {"shape": "/"}},
                    )
                )
        down = [
            (d.unit, d.start_h, d.end_h, f"breakdown {d.unit}: {d.reason}")
            for d in schedule.downtime
        ]
        if down:
            fig.add_trace(
                _bars(schedule, down, "breakdown", "#d62728", marker={"pattern": {"shape": "x"}})
            )
        cls_of = {str(r["unit"]): str(r["equipment_class"]) for r in ops}
        order = sorted(cls_of, key=lambda u: (cls_of[u], u))
        title = "Schedule by unit"
    else:
        procs = list(dict.fromkeys(str(r["procedure"]) for r in ops))
        for k, proc in enumerate(procs):
            rows = [
                (
                    str(r["batch"]),
                    float(r["start_h"]),
                    float(r["end_h"]),
                    f"{r['batch']} / {r['procedure']} on {r['unit']}\n"
                    f"{_local(schedule, float(r['start_h']))} to "
                    f"{_local(schedule, float(r['end_h']))}",
                )
                for r in ops
                if str(r["procedure"]) == proc
            ]
            fig.add_trace(_bars(schedule, rows, proc, _PALETTE[k % len(_PALETTE)]))
        first: dict[str, float] = {}
        for r in ops:
            b = str(r["batch"])
            first[b] = min(first.get(b, float("inf")), float(r["start_h"]))
        order = sorted(first, key=lambda b: (first[b], b))
        title = "Schedule by batch"
    fig.update_layout(
        title=f"{title}: {schedule.site} ({schedule.status}, {schedule.objective})",
        barmode="overlay",
        xaxis={"type": "date", "title": "local time"},
        yaxis={
            "categoryorder": "array",
            "categoryarray": list(reversed(order)),
            "automargin": True,
        },
        height=max(400, min(12000, 22 * len(order) + 160)),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        template="plotly_white",
    )
    return fig


def gantt_html(schedule: Schedule, *, site: Site | None = None) -> str:
    """A self-contained HTML page with the charts by unit and by batch."""
    return (
        environment("phactory.schedule")
        .get_template("gantt.html.j2")
        .render(
            site=schedule.site,
            heading=f"{schedule.site}: {schedule.status}, objective {schedule.objective} = "
            f"{schedule.objective_value}, bound {schedule.best_bound}, gap {schedule.gap}",
            generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            figures=[
                gantt_figure(schedule, by="unit", site=site),
                gantt_figure(schedule, by="batch", site=site),
            ],
        )
    )


def write_gantt(schedule: Schedule, path: str | Path, *, site: Site | None = None) -> Path:
    """Write :func:`gantt_html` to ``path``; return the path."""
    out = Path(path)
    out.write_text(gantt_html(schedule, site=site), encoding="utf-8")
    return out
