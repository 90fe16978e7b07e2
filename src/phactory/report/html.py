"""One self-contained HTML report of a run or of several replications.

The file embeds plotly.js inline (no CDN, no network access when opened) and holds the
Gantt chart, the time model, OEE and losses, throughput, flow times, labour, energy,
bottlenecks and the KPI tables with Student-t confidence intervals.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from phactory.events import EventLog
from phactory.kpi import SITE_KPIS, KpiResult, summarise
from phactory.model import Site
from phactory.report import figures

__all__ = ["KPI_LABELS", "write_html"]

#: Human labels of site KPIs for the report table.
KPI_LABELS: dict[str, str] = {
    "throughput_per_day": "Throughput (batches completed per day)",
    "throughput_per_week": "Throughput (batches completed per week)",
    "quantity_per_day": "Good quantity per day",
    "quantity_per_week": "Good quantity per week",
    "batches_completed": "Batches completed",
    "batches_scrapped": "Batches scrapped",
    "batches_started": "Batches started",
    "batches_in_progress": "Batches in progress at end",
    "batch_success_rate": "Batch success rate (completed / finished)",
    "oee": "OEE (A x E x Q)",
    "availability": "Availability A = APT / PBT",
    "effectiveness": "Effectiveness E = planned / actual production time",
    "quality_ratio": "Quality ratio Q = GQ / PQ (standard hours)",
    "technical_efficiency": "Technical efficiency APT / (APT + ADET)",
    "setup_ratio": "Setup rate AUST / (APT + AUST)",
    "utilisation": "Utilisation (producing / horizon)",
    "busy_utilisation": "Busy utilisation (producing + setup + cleaning)",
    "cycle_time_h": "Cycle time, mean",
    "cycle_time_p50_h": "Cycle time, median",
    "cycle_time_p90_h": "Cycle time, 90th percentile",
    "lead_time_h": "Lead time, mean",
    "lead_time_p50_h": "Lead time, median",
    "lead_time_p90_h": "Lead time, 90th percentile",
    "vein_to_vein_h": "Vein-to-vein time, mean",
    "vein_to_vein_p50_h": "Vein-to-vein time, median",
    "vein_to_vein_p90_h": "Vein-to-vein time, 90th percentile",
    "wip": "WIP (time-average batches in progress)",
    "wip_released": "Released WIP",
    "orders_due": "Orders due within horizon",
    "orders_on_time": "Orders on time",
    "on_time_delivery": "On-time delivery",
    "labour_utilisation": "Labour utilisation",
    "energy_kwh": "Electrical energy",
    "energy_per_batch_kwh": "Energy per completed batch",
    "co2e_kg": "CO2e (scope 2, location-based)",
    "co2e_per_batch_kg": "CO2e per completed batch",
    "bottleneck_share": "Top bottleneck share (sole + shifting)",
}

_RATIO_UNITS = {"1"}
_UNIT_COLUMNS = [
    "availability",
    "effectiveness",
    "quality_ratio",
    "oee",
    "utilisation",
    "busy_utilisation",
    "bottleneck_share",
]

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
       margin: 0; color: #222; background: #fafafa; }
header { background: #1f3b57; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 6px 0; font-size: 24px; }
header p { margin: 2px 0; opacity: 0.9; font-size: 14px; }
main { padding: 8px 32px 40px 32px; max-width: 1500px; }
section { background: white; border: 1px solid #e3e3e3; border-radius: 6px;
          margin: 18px 0; padding: 10px 18px; }
h2 { font-size: 18px; margin: 10px 0; color: #1f3b57; }
p.note { font-size: 13px; color: #555; margin: 4px 0 8px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { background: white; border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 16px;
        min-width: 150px; }
.card .v { font-size: 22px; font-weight: 600; color: #1f3b57; }
.card .k { font-size: 12px; color: #666; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { border-bottom: 1px solid #eee; padding: 4px 8px; text-align: right; }
th { background: #f3f5f8; position: sticky; top: 0; }
td.l, th.l { text-align: left; }
code { font-size: 12px; color: #555; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
@media (max-width: 1100px) { .grid2 { grid-template-columns: 1fr; } }
"""


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "–"
    if unit in _RATIO_UNITS:
        return f"{100.0 * value:.1f} %"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"


def _unit_label(unit: str) -> str:
    return "" if unit in _RATIO_UNITS else unit


def _records(summary: pd.DataFrame) -> dict[tuple[str, str], dict[str, float]]:
    """The summary as ``{(scope, kpi): {column: value}}`` of plain floats."""
    raw = summary.to_dict("index")
    out: dict[tuple[str, str], dict[str, float]] = {}
    for key, row in raw.items():
        scope, kpi = key if isinstance(key, tuple) else ("site", key)
        out[(str(scope), str(kpi))] = {str(c): float(v) for c, v in row.items()}
    return out


def _kpi_table(stats: dict[tuple[str, str], dict[str, float]]) -> str:
    names = [k for (scope, k) in stats if scope == "site"]
    rows = []
    for name in [k for k in SITE_KPIS if k in names] + [k for k in names if k not in SITE_KPIS]:
        r = stats[("site", name)]
        if r["n"] == 0:
            continue
        unit = SITE_KPIS.get(name, "")
        lo, hi = r["ci_low"], r["ci_high"]
        if unit in _RATIO_UNITS:  # a ratio's interval is shown within [0, 1]
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        ci = f"[{_fmt(lo, unit)}, {_fmt(hi, unit)}]" if r["n"] > 1 else "–"
        rows.append(
            f"<tr><td class='l'>{html.escape(KPI_LABELS.get(name, name))}</td>"
            f"<td class='l'><code>{html.escape(name)}</code></td>"
            f"<td>{_fmt(r['mean'], unit)}</td><td>± {_fmt(r['half_width'], unit)}</td>"
            f"<td>{ci}</td><td class='l'>{html.escape(_unit_label(unit))}</td>"
            f"<td>{int(r['n'])}</td></tr>"
        )
    head = (
        "<tr><th class='l'>KPI</th><th class='l'>name</th><th>mean</th>"
        "<th>95 % CI half-width</th><th>95 % CI</th><th class='l'>unit</th><th>n</th></tr>"
    )
    missing = [k for k in names if stats[("site", k)]["n"] == 0]
    note = (
        "<p class='note'>Not defined in any replication: "
        + ", ".join(f"<code>{html.escape(k)}</code>" for k in missing)
        + ".</p>"
        if missing
        else ""
    )
    return f"<table>{head}{''.join(rows)}</table>{note}"


def _unit_table(stats: dict[tuple[str, str], dict[str, float]], units: Sequence[str]) -> str:
    head = (
        "<tr><th class='l'>unit</th>"
        + "".join(f"<th>{html.escape(c)}</th>" for c in _UNIT_COLUMNS)
        + "</tr>"
    )
    rows = []
    for u in units:
        cells = []
        for c in _UNIT_COLUMNS:
            r = stats.get((u, c))
            if r is None:
                cells.append("<td>–</td>")
                continue
            hw = f" ± {100 * r['half_width']:.1f}" if r["n"] > 1 else ""
            cells.append(f"<td>{_fmt(r['mean'], '1')}{hw}</td>")
        rows.append(f"<tr><td class='l'>{html.escape(u)}</td>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _cards(stats: dict[tuple[str, str], dict[str, float]], results: Sequence[KpiResult]) -> str:
    picks = [
        "oee",
        "availability",
        "throughput_per_week",
        "batches_completed",
        "lead_time_h",
        "on_time_delivery",
        "labour_utilisation",
        "co2e_per_batch_kg",
    ]
    out = []
    for k in picks:
        r = stats.get(("site", k))
        if r is not None:
            out.append(
                f"<div class='card'><div class='v'>"
                f"{_fmt(r['mean'], SITE_KPIS.get(k, ''))} "
                f"{html.escape(_unit_label(SITE_KPIS.get(k, '')))}</div>"
                f"<div class='k'>{html.escape(KPI_LABELS.get(k, k))}</div></div>"
            )
    tops = [r.bottleneck_unit for r in results if r.bottleneck_unit]
    if tops:
        counts = pd.Series(tops).value_counts()
        out.append(
            f"<div class='card'><div class='v'>{html.escape(str(counts.index[0]))}"
            f"</div><div class='k'>Bottleneck ({int(counts.iloc[0])} of {len(results)} "
            f"replications)</div></div>"
        )
    return f"<div class='cards'>{''.join(out)}</div>"


def write_html(
    path: str | Path,
    site: Site | None,
    logs: Sequence[EventLog],
    results: Sequence[KpiResult],
    title: str = "Phactory KPI report",
) -> Path:
    """Write one self-contained HTML report.

    Parameters
    ----------
    path
        File to write (parent folders are created).
    site
        The site the logs come from (name and timezone in the header); may be ``None``.
    logs
        Event logs of the replications; the Gantt chart shows the first.
    results
        :func:`phactory.kpi.compute` of each log, in the same order.
    title
        Title of the report.

    Returns
    -------
    pathlib.Path
        The file written. plotly.js is embedded inline, so the file opens offline.
    """
    if not results:
        raise ValueError("write_html needs at least one KpiResult")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    stats = _records(summarise(results))
    units = [str(u) for u in results[0].units.index]
    horizon = results[0].horizon_h
    config: dict[str, Any] = {"displaylogo": False, "responsive": True}

    def fig_html(fig: Any, first: bool = False) -> str:
        return str(
            fig.to_html(
                full_html=False, include_plotlyjs=bool(first), include_mathjax=False, config=config
            )
        )

    parts: list[str] = []
    site_name = html.escape(site.name or site.id) if site is not None else "site"
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    epoch = logs[0].epoch if logs else None
    start = f", from {epoch:%Y-%m-%d %H:%M %Z}" if epoch is not None else ""
    parts.append(
        f"<header><h1>{html.escape(title)}</h1>"
        f"<p>{site_name} · {len(results)} replication(s) · horizon {horizon:,.0f} h "
        f"({horizon / 24:,.1f} d){html.escape(start)}</p>"
        f"<p>Generated {generated} by Phactory. KPIs per ISO 22400-2:2014; bottlenecks by "
        f"the active-period method (Roser et al. 2002); intervals are Student-t 95 %.</p>"
        f"</header><main>"
    )
    parts.append(_cards(stats, results))
    first = True
    sections: list[tuple[str, str, list[Any]]] = []
    if logs:
        sections.append(
            (
                "Gantt chart",
                "Every unit's state over time (first replication); "
                "blank = idle. Hover for batch, procedure and phase.",
                [figures.gantt_figure(logs[0])],
            )
        )
    sections += [
        (
            "Time model",
            "Share of the horizon in each state, mean over replications.",
            [figures.time_model_figure(results)],
        ),
        (
            "OEE and utilisation",
            "A = APT/PBT; E = planned hours of produced work / APT; "
            "Q = good / produced standard hours; OEE = A·E·Q. Error bars: 95 % CI.",
            [figures.oee_figure(results)],
        ),
        (
            "Loss tree",
            "Where the calendar time went: outside planned busy time, "
            "availability losses (setup, cleaning, delays, breakdowns), performance and quality "
            "losses, value-adding time.",
            [figures.loss_tree_figure(results), figures.losses_by_unit_figure(results)],
        ),
        (
            "Throughput and flow",
            "Batches completed per day (mean over replications); cycle "
            "time is batch start to end, lead time release to end.",
            [figures.throughput_figure(results), figures.times_figure(results)],
        ),
        (
            "Labour",
            "Assigned person-hours / person-hours on shift, per team and shift; the "
            "'all' bar also counts off-shift work.",
            [figures.labour_figure(results)],
        ),
        (
            "Energy and CO2e",
            "Running power while producing, idle power otherwise.",
            [figures.energy_figure(results)],
        ),
        (
            "Bottlenecks",
            "Share of time each unit is the sole or a shifting bottleneck.",
            [figures.bottleneck_figure(results)],
        ),
    ]
    for heading, note, figs in sections:
        parts.append(
            f"<section><h2>{html.escape(heading)}</h2><p class='note'>{html.escape(note)}</p>"
        )
        for fig in figs:
            parts.append(fig_html(fig, first))
            first = False
        parts.append("</section>")
    parts.append(
        "<section><h2>Site KPIs</h2><p class='note'>Mean over replications with "
        "Student-t 95 % confidence interval (half-width 0 for one replication; intervals "
        "of ratios are shown clipped to [0, 100 %])."
        "</p>" + _kpi_table(stats) + "</section>"
    )
    parts.append("<section><h2>Unit KPIs</h2>" + _unit_table(stats, units) + "</section>")
    notes = sorted({n for r in results for n in r.notes})
    if notes:
        parts.append(
            "<section><h2>Notes</h2><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
            + "</ul></section>"
        )
    parts.append("</main>")
    doc = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )
    out.write_text(doc, encoding="utf-8")
    return out
