"""The virtual commissioning report as one self-contained HTML file (Plotly inlined).

Rendered from ``templates/commission.html.j2`` with autoescaping
(:func:`phactory.htmlsafe.environment`): every text of the site (ids, names) is data.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phactory.live.commission import CommissionReport

__all__ = ["render_html", "write_html"]


def _num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def render_html(report: CommissionReport) -> str:
    """The report as HTML text."""
    from phactory.htmlsafe import environment
    from phactory.live.commission import CAUSES, TOLERANCE

    rows = [
        {
            "name": k.name,
            "twin": _num(k.twin),
            "live": _num(k.live),
            "diff": "n/a" if k.diff_pct is None else f"{k.diff_pct:+.1f} %",
            "cls": "" if k.diff_pct is None else ("ok" if k.cause is None else "bad"),
            "cause": k.cause
            or (
                "within tolerance" if k.diff_pct is not None else "not defined on one side or both"
            ),
        }
        for k in report.kpis
    ]
    states = [
        {
            "state": s.state,
            "twin": f"{s.twin_h:,.1f}",
            "live": f"{s.live_h:,.1f}",
            "cause": CAUSES.get(s.state, ""),
        }
        for s in report.states
    ]
    phases = [
        {
            "procedure": p.procedure,
            "phase": p.phase,
            "twin": f"{p.twin_h:,.2f}",
            "live": f"{p.live_h:,.2f}",
            "diff": "n/a" if p.diff_pct is None else f"{p.diff_pct:+.1f} %",
            "n": f"{p.twin_n} / {p.live_n}",
        }
        for p in report.phases
    ]
    figure: dict[str, Any] = {
        "data": [
            {"type": "bar", "name": side, "x": [s.state for s in report.states], "y": ys}
            for side, ys in (
                ("twin", [s.twin_h for s in report.states]),
                ("live", [s.live_h for s in report.states]),
            )
        ],
        "layout": {
            "barmode": "group",
            "height": 360,
            "yaxis": {"title": {"text": "hours (all units)"}, "type": "log"},
            "margin": {"t": 20},
        },
    }
    return (
        environment("phactory.live")
        .get_template("commission.html.j2")
        .render(
            title=f"Virtual commissioning of {report.site}",
            site=report.site,
            days=_num(report.days),
            seed=report.seed,
            batches=report.batches_started,
            live_wall=f"{report.live_wall_s:.1f}",
            twin_wall=f"{report.twin_wall_s:.2f}",
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            tolerance=f"{100 * TOLERANCE:.0f} %",
            rows=rows,
            states=states,
            phases=phases,
            figure=figure,
            config={"displaylogo": False, "responsive": True},
        )
    )


def write_html(report: CommissionReport, path: str | Path) -> Path:
    """Write the report to ``path``; return it."""
    out = Path(path)
    out.write_text(render_html(report), encoding="utf-8")
    return out
