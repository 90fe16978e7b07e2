"""Plotly figures of KPI results: Gantt, time model, OEE, losses, flow, labour, energy.

Every function takes event logs and/or :class:`phactory.kpi.KpiResult` objects and
returns a ``plotly.graph_objects.Figure``. Figures over several replications show the
mean across replications; error bars are Student-t 95 % confidence half-widths.

The figures hold names (units, batches, teams, shifts) as raw text: they are escaped where
they are shown (:func:`phactory.htmlsafe.figure_html` in the HTML report,
:func:`phactory.htmlsafe.escape_figure` in the web pages). Hover templates are constant
code: what varies goes into ``customdata`` or the trace name (``%{fullData.name}``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from phactory.events import STATES, EventLog
from phactory.kpi import KpiResult

__all__ = [
    "STATE_COLOURS",
    "bottleneck_figure",
    "energy_figure",
    "gantt_figure",
    "labour_figure",
    "loss_tree_figure",
    "losses_by_unit_figure",
    "oee_figure",
    "throughput_figure",
    "time_model_figure",
    "times_figure",
]

#: Colour of each equipment state (idle is left blank in the Gantt).
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
_LOSS_COLOURS: Final[dict[str, str]] = {
    "total": "#c7d3e6",
    "outside": "#bdbdbd",
    "availability": "#ff9896",
    "performance": "#ffbb78",
    "quality": "#c5b0d5",
    "productive": "#2ca02c",
}
_TEMPLATE: Final[str] = "plotly_white"


def _layout(fig: go.Figure, title: str, height: int = 420, **kw: Any) -> go.Figure:
    settings: dict[str, Any] = {
        "template": _TEMPLATE,
        "title": {"text": title, "x": 0.0},
        "height": height,
        "margin": {"l": 70, "r": 30, "t": 60, "b": 50},
        "legend": {"orientation": "h", "y": -0.15},
    }
    settings.update(kw)
    fig.update_layout(**settings)
    return fig


def _mean_ci(
    frames: Sequence[pd.DataFrame], columns: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and 95 % CI half-width over replications of same-shaped tables."""
    stack = np.stack([f[columns].to_numpy(dtype=float) for f in frames])
    ok = ~np.isnan(stack)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, stack, 0.0).sum(axis=0) / n  # nan where n == 0
        dev = np.where(ok, stack - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / np.maximum(n - 1, 1))
        tq = stats.t.ppf(0.975, np.maximum(n - 1, 1))
        half = np.where(n > 1, tq * sd / np.sqrt(np.maximum(n, 1)), 0.0)
    index = frames[0].index
    return (
        pd.DataFrame(mean, index=index, columns=columns),
        pd.DataFrame(half, index=index, columns=columns),
    )


def _error_bars(
    mean: Any, half: Any, visible: bool, low: float = 0.0, high: float = math.inf
) -> dict[str, Any]:
    """Plotly ``error_y`` of a 95 % CI clipped to the KPI's range ``[low, high]``.

    As in the KPI tables (:func:`phactory.kpi.summarise`): a share cannot go below 0 or
    above 1, so the bars stop there rather than draw impossible values.
    """
    m = np.asarray(mean, dtype=float)
    h = np.asarray(half, dtype=float)
    with np.errstate(invalid="ignore"):
        up = np.minimum(h, np.maximum(high - m, 0.0))
        down = np.minimum(h, np.maximum(m - low, 0.0))
    return {
        "type": "data",
        "symmetric": False,
        "array": up.tolist(),
        "arrayminus": down.tolist(),
        "visible": visible,
    }


def gantt_figure(log: EventLog, title: str = "Unit Gantt chart (replication 1)") -> go.Figure:
    """Timeline of every unit coloured by state; idle time is left blank.

    The x axis is calendar time when the log has an epoch, hours otherwise.
    """
    tl = log.timeline
    tl = tl[(tl["state"] != "idle") & (tl["end_h"] > tl["start_h"])]
    units = list(dict.fromkeys([*map(str, log.units), *map(str, tl["unit"].unique())]))
    fig = go.Figure()
    for state in STATES:
        rows = tl[tl["state"] == state]
        if state != "idle" and rows.empty:
            continue
        start = rows["start_h"].to_numpy(dtype=float)
        dur = rows["end_h"].to_numpy(dtype=float) - start
        custom = (
            np.column_stack(
                [
                    rows["batch"].astype(object).fillna("").astype(str).to_numpy(),
                    rows["procedure"].astype(object).fillna("").astype(str).to_numpy(),
                    rows["phase"].astype(object).fillna("").astype(str).to_numpy(),
                    np.round(dur, 2).astype(str),
                ]
            )
            if len(rows)
            else None
        )
        if log.epoch is not None:
            moments = pd.Timestamp(log.epoch) + pd.to_timedelta(start, unit="h")
            if log.epoch.tzinfo is not None:  # wall-clock time of the epoch's zone
                moments = moments.tz_convert(log.epoch.tzinfo).tz_localize(None)
            base: Any = moments.strftime("%Y-%m-%d %H:%M")
            x: Any = np.round(dur * 3_600_000.0)
        else:
            base, x = np.round(start, 3), np.round(dur, 3)
        fig.add_trace(
            go.Bar(
                y=rows["unit"].astype(str),
                x=x,
                base=base,
                orientation="h",
                name=state,
                marker={"color": STATE_COLOURS[state], "line": {"width": 0}},
                customdata=custom,
                showlegend=True,
                visible=True if len(rows) else "legendonly",
                hovertemplate=(
                    "<b>%{y}</b> %{fullData.name}<br>batch %{customdata[0]}"
                    "<br>%{customdata[1]} / %{customdata[2]}"
                    "<br>%{customdata[3]} h<extra></extra>"
                ),
            )
        )
    fig.update_yaxes(categoryorder="array", categoryarray=units[::-1], type="category")
    if log.epoch is not None:
        fig.update_xaxes(type="date", title="local time (epoch time zone)")
    else:
        fig.update_xaxes(title="time [h]")
    return _layout(
        fig, title, height=max(360, 22 * len(units) + 140), barmode="overlay", bargap=0.25
    )


def time_model_figure(results: Sequence[KpiResult]) -> go.Figure:
    """Share of the horizon each unit spends in each state (mean over replications)."""
    cols = [f"{s}_h" for s in STATES]
    mean, _ = _mean_ci([r.units for r in results], cols)
    share = mean.div(mean.sum(axis=1).replace(0, np.nan), axis=0)
    fig = go.Figure()
    for s in STATES:
        fig.add_trace(
            go.Bar(
                x=share.index.astype(str),
                y=share[f"{s}_h"],
                name=s,
                marker_color=STATE_COLOURS[s],
                hovertemplate="%{x}: %{y:.1%}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(
        fig, "Time model per unit (ISO 22400-2 states, share of horizon)", barmode="stack"
    )


def oee_figure(results: Sequence[KpiResult]) -> go.Figure:
    """OEE (bars, 95 % CI) with availability, effectiveness and quality ratio (markers)
    and utilisation per unit; ``SITE`` aggregates all units."""
    cols = ["oee", "availability", "effectiveness", "quality_ratio", "utilisation"]
    mean, half = _mean_ci([r.units for r in results], cols)
    site = pd.DataFrame([{c: r.site[c] for c in cols} for r in results])
    site_mean = site.mean()
    if len(site) > 1:
        site_half = site.sem() * float(stats.t.ppf(0.975, len(site) - 1))
    else:
        site_half = site_mean * 0.0
    x = ["SITE", *mean.index.astype(str)]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=[site_mean["oee"], *mean["oee"]],
            name="OEE",
            marker_color="#2ca02c",
            error_y=_error_bars(
                [site_mean["oee"], *mean["oee"]],
                [site_half["oee"], *half["oee"]],
                len(results) > 1,
                high=1.0,
            ),
            hovertemplate="%{x}: OEE %{y:.1%}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=[site_mean["utilisation"], *mean["utilisation"]],
            name="utilisation",
            marker_color="#c7c7c7",
            hovertemplate="%{x}: utilisation %{y:.1%}<extra></extra>",
        )
    )
    markers = {
        "availability": ("#1f77b4", "circle"),
        "effectiveness": ("#ff7f0e", "diamond"),
        "quality_ratio": ("#9467bd", "square"),
    }
    for c, (colour, symbol) in markers.items():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[site_mean[c], *mean[c]],
                name=c,
                mode="markers",
                marker={
                    "color": colour,
                    "symbol": symbol,
                    "size": 9,
                    "line": {"width": 1, "color": "white"},
                },
                hovertemplate="%{x}: %{fullData.name} %{y:.1%}<extra></extra>",
            )
        )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return _layout(
        fig,
        "OEE = A × E × Q per unit (SITE = all units); utilisation = producing / horizon",
        barmode="group",
    )


def loss_tree_figure(results: Sequence[KpiResult], unit: str = "site") -> go.Figure:
    """Sunburst of the OEE loss tree within planned busy time (mean hours).

    The root is PBT; the hours outside it (planned down, idle) are given in the title.
    """
    trees = [r.loss_tree[r.loss_tree["unit"] == unit].reset_index(drop=True) for r in results]
    mean, _ = _mean_ci(trees, ["hours"])
    t = trees[0].assign(hours=mean["hours"].to_numpy())
    outside = float(t.loc[t["id"] == "not_planned", "hours"].iloc[0])
    horizon = float(t.loc[t["id"] == "horizon", "hours"].iloc[0])
    keep = ~t["id"].isin(["horizon", "not_planned", "planned_down", "idle"])
    t = t[keep].assign(parent=lambda d: d["parent"].where(d["id"] != "pbt", ""))
    pbt = float(t.loc[t["id"] == "pbt", "hours"].iloc[0])
    share = t["hours"] / pbt if pbt > 0 else t["hours"] * np.nan
    text = [f"{h:,.0f} h · {s:.1%}" for h, s in zip(t["hours"], share, strict=True)]
    fig = go.Figure(
        go.Sunburst(
            ids=t["id"],
            parents=t["parent"],
            labels=t["label"],
            values=t["hours"],
            branchvalues="total",
            text=text,
            textinfo="label+text",
            marker={"colors": [_LOSS_COLOURS.get(k, "#cccccc") for k in t["kind"]]},
            customdata=np.column_stack([t["iso"], share]),
            hovertemplate=(
                "<b>%{label}</b> (%{customdata[0]})<br>%{value:,.1f} h"
                "<br>%{customdata[1]:.1%} of PBT<extra></extra>"
            ),
            insidetextorientation="horizontal",
            sort=False,
        )
    )
    title = (
        f"OEE loss tree, {unit}: planned busy time {pbt:,.0f} h "
        f"(outside PBT: {outside:,.0f} h of {horizon:,.0f} h calendar time)"
    )
    return _layout(fig, title, height=620, margin={"l": 10, "r": 10, "t": 60, "b": 10})


def losses_by_unit_figure(results: Sequence[KpiResult]) -> go.Figure:
    """Availability, performance and quality losses per unit [h] (stacked)."""
    nodes = [
        "setup",
        "cleaning",
        "down",
        "waiting_labour",
        "waiting_upstream",
        "blocked",
        "performance_loss",
        "quality_loss",
    ]
    frames = []
    for r in results:
        t = r.loss_tree[(r.loss_tree["unit"] != "site") & r.loss_tree["id"].isin(nodes)]
        frames.append(
            t.pivot(index="unit", columns="id", values="hours").reindex(
                index=r.units.index, columns=nodes
            )
        )
    mean, _ = _mean_ci(frames, nodes)
    colours = {**STATE_COLOURS, "performance_loss": "#ffbb78", "quality_loss": "#8c564b"}
    fig = go.Figure()
    for n in nodes:
        fig.add_trace(
            go.Bar(
                x=mean.index.astype(str),
                y=mean[n],
                name=n,
                marker_color=colours[n],
                hovertemplate="%{x}: %{y:,.1f} h<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_yaxes(title="hours")
    return _layout(fig, "Losses within planned busy time per unit", barmode="stack")


def throughput_figure(results: Sequence[KpiResult]) -> go.Figure:
    """Batches completed and scrapped per day, and cumulative completions (means)."""
    cols = ["batches_completed", "batches_scrapped", "cumulative_completed"]
    n_days = min(len(r.throughput) for r in results)
    frames = [r.throughput.iloc[:n_days].reset_index(drop=True) for r in results]
    mean, half = _mean_ci(frames, cols)
    t0 = frames[0]
    x = t0["date"].dt.strftime("%Y-%m-%d") if "date" in t0 else t0["day"]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=x, y=mean["batches_completed"], name="completed / day", marker_color="#2ca02c")
    )
    fig.add_trace(
        go.Bar(x=x, y=mean["batches_scrapped"], name="scrapped / day", marker_color="#d62728")
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=mean["cumulative_completed"],
            name="cumulative completed",
            yaxis="y2",
            line={"color": "#1f77b4", "width": 2},
            error_y={"type": "data", "array": half["cumulative_completed"], "visible": False},
        )
    )
    return _layout(
        fig,
        "Throughput per day",
        barmode="stack",
        yaxis={"title": "batches per day"},
        yaxis2={
            "title": "cumulative batches",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
    )


def times_figure(results: Sequence[KpiResult]) -> go.Figure:
    """Distributions of cycle time and lead time of completed batches (all replications)."""
    b = pd.concat([r.batches for r in results], ignore_index=True)
    fig = go.Figure()
    for col, colour in (("cycle_time_h", "#1f77b4"), ("lead_time_h", "#ff7f0e")):
        v = b[col].dropna() / 24.0
        fig.add_trace(
            go.Histogram(
                x=v, name=col.replace("_h", " [d]"), opacity=0.6, marker_color=colour, nbinsx=40
            )
        )
    fig.update_xaxes(title="days")
    fig.update_yaxes(title="batches")
    return _layout(fig, "Cycle time and lead time of completed batches", barmode="overlay")


def labour_figure(results: Sequence[KpiResult]) -> go.Figure:
    """Labour utilisation per team and shift (mean, 95 % CI)."""
    frames = [r.labour.set_index(["team", "shift"]) for r in results]
    common = frames[0].index
    for f in frames[1:]:
        common = common.intersection(f.index, sort=False)
    frames = [f.reindex(common) for f in frames]
    mean, half = _mean_ci(frames, ["utilisation", "assigned_person_h", "available_person_h"])
    # Plotly orders inner categories by first appearance over the whole axis: list every
    # shift before the "all" bars so that each team's "all" comes last.
    last = mean.index.get_level_values("shift") == "all"
    order = np.concatenate([np.flatnonzero(~last), np.flatnonzero(last)])
    mean, half, common = mean.iloc[order], half.iloc[order], common[order]
    fig = go.Figure()
    if len(common):
        teams = [str(t) for t in common.get_level_values("team")]
        shifts = [str(s) for s in common.get_level_values("shift")]
        fig.add_trace(
            go.Bar(
                x=[teams, ["all shifts" if s == "all" else s for s in shifts]],
                y=mean["utilisation"],
                marker_color=["#1f3b57" if s == "all" else "#6fa8dc" for s in shifts],
                error_y=_error_bars(mean["utilisation"], half["utilisation"], len(results) > 1),
                customdata=np.column_stack([mean["assigned_person_h"], mean["available_person_h"]]),
                hovertemplate=(
                    "%{x}: %{y:.1%}<br>%{customdata[0]:,.0f} of "
                    "%{customdata[1]:,.0f} person-h<extra></extra>"
                ),
                showlegend=False,
            )
        )
    fig.update_yaxes(tickformat=".0%", title="assigned / on-shift person-hours")
    return _layout(fig, "Labour load by team and shift (dark: whole team incl. off-shift work)")


def energy_figure(results: Sequence[KpiResult]) -> go.Figure:
    """Energy per unit split into running and idle draw [kWh] (mean)."""
    mean, _ = _mean_ci([r.energy for r in results], ["running_kwh", "idle_kwh", "co2e_kg"])
    co2 = float(np.mean([r.site["co2e_kg"] for r in results])) / 1000.0
    kwh = float(np.mean([r.site["energy_kwh"] for r in results])) / 1000.0
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=mean.index.astype(str), y=mean["running_kwh"], name="running", marker_color="#d62728"
        )
    )
    fig.add_trace(
        go.Bar(
            x=mean.index.astype(str),
            y=mean["idle_kwh"],
            name="idle / standby",
            marker_color="#ff9896",
            customdata=mean["co2e_kg"],
            hovertemplate="%{x}: %{y:,.0f} kWh<extra>idle</extra>",
        )
    )
    fig.update_yaxes(title="kWh")
    return _layout(
        fig, f"Electrical energy per unit: {kwh:,.1f} MWh, {co2:,.1f} t CO2e", barmode="stack"
    )


def bottleneck_figure(results: Sequence[KpiResult]) -> go.Figure:
    """Sole and shifting bottleneck shares per unit (Roser et al. 2002), mean."""
    frames = [r.bottleneck.set_index("unit").reindex(results[0].units.index) for r in results]
    mean, _ = _mean_ci(frames, ["sole_share", "shifting_share", "bottleneck_share"])
    mean = mean.sort_values("bottleneck_share", ascending=False)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=mean.index.astype(str), y=mean["sole_share"], name="sole", marker_color="#d62728")
    )
    fig.add_trace(
        go.Bar(
            x=mean.index.astype(str),
            y=mean["shifting_share"],
            name="shifting",
            marker_color="#ff9896",
        )
    )
    fig.update_yaxes(tickformat=".0%", title="share of horizon")
    return _layout(fig, "Shifting bottleneck detection (active-period method)", barmode="stack")
