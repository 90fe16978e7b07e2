"""Plotly figures of the pages, as plain dicts (``{"data", "layout", "config"}``).

Pure functions of site data and run outputs, so they are tested without a browser.
Times on calendar axes are the site's local wall-clock time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from phactory.model import MasterRecipe, Site

__all__ = [
    "STATE_COLOURS",
    "compare_figure",
    "critical_path_figure",
    "gantt_figure",
    "maintenance_figure",
    "shift_week_figure",
]

#: Equipment state colours, as in the HTML report.
STATE_COLOURS: Final[dict[str, str]] = {
    "producing": "#2ca02c",
    "setup": "#1f77b4",
    "cleaning": "#17becf",
    "waiting_labour": "#ff7f0e",
    "waiting_upstream": "#e6c619",
    "blocked": "#9467bd",
    "down": "#d62728",
    "planned_down": "#7f7f7f",
    "idle": "#e8e8e8",
}
_PALETTE: Final = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
    "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363",
)  # fmt: skip
_CONFIG: Final = {"displaylogo": False, "responsive": True}
_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _clock(epoch: dt.datetime) -> Any:
    """``hours -> ISO local wall-clock time`` for ``epoch`` (elapsed time, DST-safe)."""
    zone = epoch.tzinfo
    base = epoch.astimezone(dt.UTC)

    def at(hours: float) -> str:
        moment = base + dt.timedelta(hours=hours)
        local = moment.astimezone(zone) if zone is not None else moment
        return local.replace(tzinfo=None).isoformat(timespec="minutes")

    return at


def _layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.0, "font": {"size": 15}},
        "height": height,
        "template": "plotly_white",
        "margin": {"l": 110, "r": 20, "t": 50, "b": 40},
        "legend": {"orientation": "h", "y": -0.12},
        "hoverlabel": {"align": "left"},
    }
    layout.update(extra)
    return layout


def gantt_figure(
    rows: Sequence[dict[str, Any]],
    epoch: dt.datetime,
    *,
    by: str = "unit",
    colour: str = "state",
    title: str = "",
    max_rows: int = 150,
) -> dict[str, Any]:
    """An interactive Gantt chart: one bar per interval, zoom with the range slider.

    Parameters
    ----------
    rows
        Intervals with ``start_h``, ``end_h`` [h from ``epoch``] and the fields named by
        ``by`` and ``colour``; ``batch``, ``procedure``, ``unit``, ``state`` are shown on
        hover when present.
    by
        ``"unit"`` or ``"batch"``: one line per value.
    colour
        Field that picks the colour (``"state"``, ``"procedure"``, ``"product"``).
    max_rows
        At most this many lines (the earliest starting), for a readable chart.
    """
    at = _clock(epoch)
    usable = [r for r in rows if r.get(by) and r.get("end_h", 0) > r.get("start_h", 0)]
    first: dict[str, float] = {}
    for r in usable:
        key = str(r[by])
        first[key] = min(first.get(key, r["start_h"]), r["start_h"])
    lines = sorted(first, key=lambda k: (first[k], k))
    if by == "unit":
        lines = sorted(first)
    clipped = len(lines) > max_rows
    lines = lines[:max_rows]
    keep = set(lines)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in usable:
        if str(r[by]) in keep:
            groups.setdefault(str(r.get(colour) or "other"), []).append(r)
    order = [s for s in STATE_COLOURS if s in groups] if colour == "state" else sorted(groups)
    data = []
    for i, name in enumerate(order):
        items = groups[name]
        colour_of = STATE_COLOURS.get(name) if colour == "state" else None
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": name,
                "y": [str(r[by]) for r in items],
                "base": [at(r["start_h"]) for r in items],
                "x": [(r["end_h"] - r["start_h"]) * 3_600_000.0 for r in items],
                "marker": {"color": colour_of or _PALETTE[i % len(_PALETTE)]},
                "customdata": [
                    [
                        r.get("batch") or "",
                        r.get("procedure") or "",
                        r.get("unit") or "",
                        r.get("state") or "",
                        at(r["start_h"]).replace("T", " "),
                        at(r["end_h"]).replace("T", " "),
                        round(r["end_h"] - r["start_h"], 2),
                    ]
                    for r in items
                ],
                "hovertemplate": (
                    "<b>%{y}</b><br>batch %{customdata[0]}<br>procedure %{customdata[1]}"
                    "<br>unit %{customdata[2]}<br>state %{customdata[3]}"
                    "<br>%{customdata[4]} → %{customdata[5]} (%{customdata[6]} h)"
                    "<extra>%{fullData.name}</extra>"
                ),
            }
        )
    legend_rows = -(-len(order) // 7)
    top = 30 + 22 * legend_rows + (30 if title or clipped else 0)
    height = max(320, min(1600, top + 80 + 24 * len(lines)))
    note = f" (first {max_rows} of {len(first)})" if clipped else ""
    layout = _layout(
        (title + note) if title else note.strip(" ()"),
        height,
        barmode="overlay",
        bargap=0.25,
        xaxis={"type": "date", "rangeslider": {"visible": True, "thickness": 0.06}},
        yaxis={
            "categoryorder": "array",
            "categoryarray": list(reversed(lines)),
            "automargin": True,
            "dtick": 1,
            "tickfont": {"size": 11},
        },
        legend={"orientation": "h", "y": 1.0, "x": 0, "yanchor": "bottom"},
        margin={"l": 120, "r": 20, "t": top, "b": 40},
    )
    return {"data": data, "layout": layout, "config": _CONFIG}


def shift_week_figure(site: Site) -> dict[str, Any]:
    """Each team's staffed windows over one week (Monday 00:00 to Sunday 24:00)."""
    data = []
    teams = list(site.teams.values())
    for i, team in enumerate(teams):
        pattern = site.shift_patterns.get(team.shift_pattern)
        if pattern is None:
            continue
        windows = []
        for start, end, name in pattern.weekly_windows():
            windows.append((start, min(end, 168.0), name))
            if end > 168.0:  # a Sunday night shift wraps to Monday
                windows.append((0.0, end - 168.0, name))
        label = f"{team.name or team.id} ({team.headcount} per shift)"
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": team.id,
                "y": [label] * len(windows),
                "base": [w[0] for w in windows],
                "x": [w[1] - w[0] for w in windows],
                "text": [w[2] for w in windows],
                "textposition": "inside",
                "marker": {"color": _PALETTE[i % len(_PALETTE)]},
                "customdata": [
                    [
                        _DAYS[int(w[0] // 24) % 7],
                        f"{int(w[0] % 24):02d}:{int(w[0] % 1 * 60):02d}",
                        round(w[1] - w[0], 2),
                    ]
                    for w in windows
                ],
                "hovertemplate": (
                    "%{y}<br>shift %{text}<br>%{customdata[0]} %{customdata[1]}, "
                    "%{customdata[2]} h<extra></extra>"
                ),
            }
        )
    layout = _layout(
        "Shift calendar: staffed hours of a week",
        max(260, 80 + 48 * len(teams)),
        barmode="overlay",
        showlegend=False,
        xaxis={
            "range": [0, 168],
            "tickvals": [24 * d + 12 for d in range(7)],
            "ticktext": list(_DAYS),
            "showgrid": False,
            "zeroline": False,
        },
        yaxis={"automargin": True},
        shapes=[
            {
                "type": "line",
                "x0": 24 * d,
                "x1": 24 * d,
                "y0": 0,
                "y1": 1,
                "yref": "paper",
                "line": {"color": "#bbb", "width": 1},
            }
            for d in range(8)
        ],
    )
    return {"data": data, "layout": layout, "config": _CONFIG}


def maintenance_occurrences(site: Site) -> list[dict[str, Any]]:
    """Planned maintenance windows over the plan horizon, recurring ones expanded."""
    horizon = site.plan.horizon if site.plan is not None else 24.0 * 365
    out: list[dict[str, Any]] = []
    for window in site.calendar.maintenance:
        start = site.to_hours(window.start)
        step = window.every
        while start < horizon:
            for unit in window.units:
                out.append(
                    {
                        "unit": unit,
                        "start_h": start,
                        "end_h": start + window.duration,
                        "state": "planned_down",
                        "procedure": window.reason or "maintenance",
                    }
                )
            if step is None:
                break
            start += step
            if len(out) > 5000:
                break
    return out


def maintenance_figure(site: Site) -> dict[str, Any]:
    """Maintenance per unit over the plan horizon, holidays shaded."""
    figure = gantt_figure(maintenance_occurrences(site), site.epoch, by="unit", colour="procedure")
    at = _clock(site.epoch)
    shapes = []
    for holiday in site.calendar.holidays:
        start = site.to_hours(holiday.date)
        shapes.append(
            {
                "type": "rect", "xref": "x", "yref": "paper",
                "x0": at(start), "x1": at(start + 24.0), "y0": 0, "y1": 1,
                "fillcolor": "rgba(255,165,0,0.25)", "line": {"width": 0},
            }
        )  # fmt: skip
    if site.plan is not None:
        figure["layout"]["xaxis"]["range"] = [at(0.0), at(site.plan.horizon)]
    figure["layout"]["shapes"] = shapes
    return figure


def asap_procedures(recipe: MasterRecipe) -> list[dict[str, Any]]:
    """Unit procedures at their earliest start (mean durations, minimum lags) [h]."""
    _, path = recipe.critical_path()
    on_path = set(path)
    finish: dict[str, float] = {}
    out = []
    for key in recipe.topological_order():
        up = recipe.unit_procedures[key]
        start = 0.0
        for link in up.after:
            start = max(start, finish.get(link.procedure, 0.0) + link.min_lag)
        finish[key] = start + up.mean_duration
        out.append(
            {
                "procedure": key,
                "name": up.name or key,
                "equipment_class": up.equipment_class,
                "start_h": start,
                "end_h": finish[key],
                "critical": key in on_path,
            }
        )
    return out


def critical_path_figure(recipe: MasterRecipe) -> dict[str, Any]:
    """The recipe's unit procedures as a timeline, the critical path highlighted."""
    rows = asap_procedures(recipe)
    total, _ = recipe.critical_path()
    data = []
    for critical in (True, False):
        items = [r for r in rows if r["critical"] is critical]
        if not items:
            continue
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": "critical path" if critical else "other unit procedures",
                "y": [r["procedure"] for r in items],
                "base": [r["start_h"] / 24.0 for r in items],
                "x": [(r["end_h"] - r["start_h"]) / 24.0 for r in items],
                "marker": {"color": "#d62728" if critical else "#8fb3d9"},
                "customdata": [
                    [r["equipment_class"], round(r["start_h"], 1), round(r["end_h"], 1)]
                    for r in items
                ],
                "hovertemplate": (
                    "<b>%{y}</b><br>%{customdata[0]}<br>from %{customdata[1]} h to "
                    "%{customdata[2]} h<extra>%{fullData.name}</extra>"
                ),
            }
        )
    layout = _layout(
        f"{recipe.id}: critical path {total / 24.0:.1f} d (earliest starts, mean durations)",
        max(300, 80 + 26 * len(rows)),
        barmode="overlay",
        xaxis={"title": "days from the start of the batch"},
        yaxis={
            "categoryorder": "array",
            "categoryarray": [r["procedure"] for r in reversed(rows)],
            "automargin": True,
        },
    )
    return {"data": data, "layout": layout, "config": _CONFIG}


#: KPIs of the comparison chart: name, label, scale.
COMPARE_KPIS: Final = (
    ("oee", "OEE", 100.0),
    ("availability", "Availability", 100.0),
    ("utilisation", "Utilisation", 100.0),
    ("labour_utilisation", "Labour utilisation", 100.0),
    ("on_time_delivery", "On-time delivery", 100.0),
)


def compare_figure(rows: Iterable[dict[str, Any]], name_a: str, name_b: str) -> dict[str, Any]:
    """Ratio KPIs of two runs side by side, with 95 % CIs as error bars [%]."""
    by_kpi = {r["kpi"]: r for r in rows}
    kpis = [k for k in COMPARE_KPIS if k[0] in by_kpi]
    data = []
    for side, name, colour in (("a", name_a, "#8fb3d9"), ("b", name_b, "#1d3b5e")):
        means, plus, minus = [], [], []
        for key, _, scale in kpis:
            v = by_kpi[key][side]
            mean = v.get("mean")
            means.append(None if mean is None else mean * scale)
            hi, lo = v.get("ci_high"), v.get("ci_low")
            plus.append(0.0 if hi is None or mean is None else (hi - mean) * scale)
            minus.append(0.0 if lo is None or mean is None else (mean - lo) * scale)
        data.append(
            {
                "type": "bar",
                "name": name,
                "x": [label for _, label, _ in kpis],
                "y": means,
                "marker": {"color": colour},
                "error_y": {"type": "data", "array": plus, "arrayminus": minus, "visible": True},
                # The run's name is user text: named through the trace, never written
                # into the template (where Plotly would read markup and %{...} in it).
                "hovertemplate": "%{x}: %{y:.1f} %<extra>%{fullData.name}</extra>",
            }
        )
    layout = _layout(
        "Key ratios with 95 % confidence intervals",
        380,
        barmode="group",
        yaxis={"title": "%", "range": [0, 105]},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return {"data": data, "layout": layout, "config": _CONFIG}
