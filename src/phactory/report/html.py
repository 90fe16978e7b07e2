"""One self-contained HTML report of a run or of several replications.

The file embeds plotly.js inline (no CDN, no network access when opened) and holds the
Gantt chart, the time model, OEE and losses, throughput, flow times, labour, energy,
bottlenecks and the KPI tables with Student-t confidence intervals.

The page is the Jinja2 template ``templates/report.html.j2`` rendered with autoescaping
(:func:`phactory.htmlsafe.environment`): the site's name, the title, unit, team and shift
names reach it as data and are shown as text, in the tables and in the charts alike
(:func:`phactory.htmlsafe.figure_html` escapes the figures' text).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from phactory.events import EventLog
from phactory.htmlsafe import environment
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


def _kpi_rows(stats: dict[tuple[str, str], dict[str, float]]) -> list[dict[str, str]]:
    """Rows of the site KPI table: label, name, mean, half-width, CI, unit, n (text)."""
    names = [k for (scope, k) in stats if scope == "site"]
    rows = []
    for name in [k for k in SITE_KPIS if k in names] + [k for k in names if k not in SITE_KPIS]:
        r = stats[("site", name)]
        if r["n"] == 0:
            continue
        unit = SITE_KPIS.get(name, "")
        lo, hi = r["ci_low"], r["ci_high"]  # a ratio's already within [0, 1] (summarise)
        rows.append(
            {
                "label": KPI_LABELS.get(name, name),
                "name": name,
                "mean": _fmt(r["mean"], unit),
                "half_width": _fmt(r["half_width"], unit),
                "ci": f"[{_fmt(lo, unit)}, {_fmt(hi, unit)}]" if r["n"] > 1 else "–",
                "unit": _unit_label(unit),
                "n": str(int(r["n"])),
            }
        )
    return rows


def _unit_rows(
    stats: dict[tuple[str, str], dict[str, float]], units: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows of the unit KPI table: the unit and one text cell per :data:`_UNIT_COLUMNS`."""
    rows = []
    for u in units:
        cells = []
        for c in _UNIT_COLUMNS:
            r = stats.get((u, c))
            if r is None:
                cells.append("–")
                continue
            hw = f" ± {100 * r['half_width']:.1f}" if r["n"] > 1 else ""
            cells.append(f"{_fmt(r['mean'], '1')}{hw}")
        rows.append({"unit": u, "cells": cells})
    return rows


def _cards(
    stats: dict[tuple[str, str], dict[str, float]], results: Sequence[KpiResult]
) -> list[dict[str, str]]:
    """The headline cards: value with unit, and label."""
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
            unit = SITE_KPIS.get(k, "")
            out.append(
                {
                    "value": f"{_fmt(r['mean'], unit)} {_unit_label(unit)}",
                    "label": KPI_LABELS.get(k, k),
                }
            )
    tops = [r.bottleneck_unit for r in results if r.bottleneck_unit]
    if tops:
        counts = pd.Series(tops).value_counts()
        out.append(
            {
                "value": str(counts.index[0]),
                "label": f"Bottleneck ({int(counts.iloc[0])} of {len(results)} replications)",
            }
        )
    return out


def _sections(logs: Sequence[EventLog], results: Sequence[KpiResult]) -> list[dict[str, Any]]:
    """The chart sections: heading, note and figures."""
    sections: list[dict[str, Any]] = []
    if logs:
        sections.append(
            {
                "heading": "Gantt chart",
                "note": "Every unit's state over time (first replication); "
                "blank = idle. Hover for batch, procedure and phase.",
                "figures": [figures.gantt_figure(logs[0])],
            }
        )
    sections += [
        {
            "heading": "Time model",
            "note": "Share of the horizon in each state, mean over replications.",
            "figures": [figures.time_model_figure(results)],
        },
        {
            "heading": "OEE and utilisation",
            "note": "A = APT/PBT; E = planned hours of produced work / APT; "
            "Q = good / produced standard hours; OEE = A·E·Q. Error bars: 95 % CI.",
            "figures": [figures.oee_figure(results)],
        },
        {
            "heading": "Loss tree",
            "note": "Where the calendar time went: outside planned busy time, "
            "availability losses (setup, cleaning, delays, breakdowns), performance and "
            "quality losses, value-adding time.",
            "figures": [figures.loss_tree_figure(results), figures.losses_by_unit_figure(results)],
        },
        {
            "heading": "Throughput and flow",
            "note": "Batches completed per day (mean over replications); cycle "
            "time is batch start to end, lead time release to end.",
            "figures": [figures.throughput_figure(results), figures.times_figure(results)],
        },
        {
            "heading": "Labour",
            "note": "Assigned person-hours / person-hours on shift, per team and shift; the "
            "'all' bar also counts off-shift work.",
            "figures": [figures.labour_figure(results)],
        },
        {
            "heading": "Energy and CO2e",
            "note": "Running power while producing, idle power otherwise.",
            "figures": [figures.energy_figure(results)],
        },
        {
            "heading": "Bottlenecks",
            "note": "Share of time each unit is the sole or a shifting bottleneck.",
            "figures": [figures.bottleneck_figure(results)],
        },
    ]
    return sections


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
    epoch = logs[0].epoch if logs else None
    page = (
        environment("phactory.report")
        .get_template("report.html.j2")
        .render(
            title=title,
            site_name=(site.name or site.id) if site is not None else "site",
            replications=len(results),
            horizon=f"{horizon:,.0f}",
            horizon_days=f"{horizon / 24:,.1f}",
            start=f", from {epoch:%Y-%m-%d %H:%M %Z}" if epoch is not None else "",
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            cards=_cards(stats, results),
            sections=_sections(logs, results),
            config={"displaylogo": False, "responsive": True},
            kpi_rows=_kpi_rows(stats),
            undefined_kpis=[k for (s, k), r in stats.items() if s == "site" and r["n"] == 0],
            unit_columns=_UNIT_COLUMNS,
            unit_rows=_unit_rows(stats, units),
            notes=sorted({n for r in results for n in r.notes}),
        )
    )
    out.write_text(page, encoding="utf-8")
    return out
