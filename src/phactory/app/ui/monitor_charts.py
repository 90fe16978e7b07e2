"""Plotly figures of the Monitoring page (:mod:`phactory.app.ui.pages.monitoring`), as
plain dicts (``{"data", "layout", "config"}``): control charts, contribution bars, batch
evolution, soft-sensor trends. Pure functions of the monitoring service's views, so they
are tested without a browser; texts are escaped by the page
(:func:`phactory.app.ui.safety.safe_figure`). Times on date axes are the site's local
wall-clock time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from phactory.app.services.monitor_alarms import AlarmDetail
    from phactory.app.services.monitor_families import BatchView, SoftSensorView
    from phactory.app.services.monitoring import ScoreSeries

__all__ = ["batch_figure", "contribution_figure", "control_figure", "soft_figure"]


def _axis(t: dt.datetime, zone: ZoneInfo) -> str:
    return t.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def _trace(
    mode: str, name: str, x: list[Any], y: list[Any], axis: int, **style: Any
) -> dict[str, Any]:
    """A scatter trace on the ``axis``-th chart of a grid (1: the top one)."""
    suffix = "" if axis == 1 else str(axis)
    return {"type": "scatter", "mode": mode, "name": name, "x": x, "y": y,
            "xaxis": f"x{suffix}", "yaxis": f"y{suffix}", **style}  # fmt: skip


def _figure(data: list[dict[str, Any]], title: str, height: int, **layout: Any) -> dict[str, Any]:
    """The figure of ``data`` with the page's common layout (``layout`` adds to it)."""
    return {
        "data": data,
        "layout": {
            "title": {"text": title, "x": 0.0},
            "height": height,
            "template": "plotly_white",
            "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
            **layout,
        },
        "config": {"displaylogo": False, "responsive": True},
    }


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of true flags."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i))
            start = None
    return runs


def control_figure(series: ScoreSeries, zone: ZoneInfo) -> dict[str, Any]:
    """T2 and SPE over time with their limits (dashed), the points over a limit marked and
    the alarm (after the persistence rule) shaded, as a Plotly figure of two stacked
    charts; texts not yet escaped."""
    x = [_axis(t, zone) for t in series.time]
    data: list[dict[str, Any]] = []
    charts = (("T2", series.t2, series.t2_limit), ("SPE", series.spe, series.spe_limit))
    for axis, (name, values, limits) in enumerate(charts, start=1):
        line = {"width": 1.4, "color": "#1d3b5e"}
        hover = "%{x}<br>%{y:.4g}<extra></extra>"
        data.append(_trace("lines", name, x, values, axis, line=line, hovertemplate=hover))
        dashed = {"width": 1.2, "dash": "dash", "color": "#d62728"}
        data.append(_trace("lines", f"{name} limit", x, limits, axis, line=dashed,
                           hoverinfo="skip"))  # fmt: skip
        over = [
            i for i, (v, lim) in enumerate(zip(values, limits, strict=True))
            if v is not None and lim is not None and v > lim
        ]  # fmt: skip
        marker = {"size": 5, "color": "#d62728"}
        data.append(_trace("markers", f"{name} over its limit", [x[i] for i in over],
                           [values[i] for i in over], axis, marker=marker))  # fmt: skip
    how = "every scored row" if series.every_s is None else f"maxima every {series.every_s:g} s"
    # The alarm (after the model's persistence rule) as shaded spans over both charts.
    shapes = [
        {"type": "rect", "xref": "x", "yref": "paper", "x0": x[a], "x1": x[b - 1], "y0": 0,
         "y1": 1, "fillcolor": "#d62728", "opacity": 0.12, "line": {"width": 0},
         "layer": "below"}
        for a, b in _runs([bool(v) for v in series.alarm])
    ]  # fmt: skip
    return _figure(
        data,
        f"{series.name} · {how}",
        460,
        grid={"rows": 2, "columns": 1, "pattern": "independent"},
        yaxis={"title": {"text": "Hotelling T2"}},
        yaxis2={"title": {"text": "SPE (Q)"}},
        xaxis={"type": "date", "matches": "x2"},
        xaxis2={"type": "date"},
        legend={"orientation": "h", "y": -0.12},
        shapes=shapes,
        uirevision=series.name,
    )


def contribution_figure(detail: AlarmDetail) -> dict[str, Any]:
    """Every variable's contribution on the alarm's raising row, largest first, as a
    horizontal bar chart (variables on the axis, their tags on hover); texts not yet
    escaped."""
    items = [c for c in detail.contributions if c.value == c.value][:25]
    a = detail.alarm
    bars = {
        "type": "bar",
        "orientation": "h",
        "y": [c.variable for c in reversed(items)],
        "x": [c.value for c in reversed(items)],
        "customdata": [c.tag for c in reversed(items)],
        "marker": {"color": "#2b6cb0"},
        "hovertemplate": "%{customdata}<br>%{x:.3g} of the limit<extra></extra>",
    }
    return _figure(
        [bars],
        f"Alarm {a.id} · {a.monitor} · {a.statistic.upper()}",
        max(260, 26 * len(items) + 90),
        margin={"l": 160, "r": 20, "t": 40, "b": 40},
        xaxis={"title": {"text": "contribution [share of the limit]"}},
        yaxis={"automargin": True, "type": "category"},
    )


def batch_figure(view: BatchView) -> dict[str, Any]:
    """The running batch over the limits of good batches at its maturity (SIMCA-online's
    batch control charts): its first score with the mean and limits of good batches,
    T2 and SPE with their time-varying limits, against hours since the batch start;
    texts not yet escaped."""
    x = view.hours
    band = {"width": 1.0, "dash": "dash", "color": "#d62728"}
    own = {"width": 1.6, "color": "#1d3b5e"}
    data = [
        _trace("lines", "score 1", x, view.score, 1, line=own),
        _trace("lines", "good batches: mean", x, view.score_mean, 1,
               line={"width": 1.0, "color": "#2ca02c"}),
        _trace("lines", "good batches: limits", x, view.score_lower, 1, line=band),
        _trace("lines", "upper limit", x, view.score_upper, 1, line=band, showlegend=False),
        _trace("lines", "T2", x, view.t2, 2, line=own, showlegend=False),
        _trace("lines", "T2 limit", x, view.t2_limit, 2, line=band, showlegend=False),
        _trace("lines", "SPE", x, view.spe, 3, line=own, showlegend=False),
        _trace("lines", "SPE limit", x, view.spe_limit, 3, line=band, showlegend=False),
    ]  # fmt: skip
    return _figure(
        data,
        f"{view.monitor} · batch {view.batch_id} on {view.unit}",
        560,
        grid={"rows": 3, "columns": 1, "pattern": "independent"},
        yaxis={"title": {"text": "score 1"}},
        yaxis2={"title": {"text": "T2"}},
        yaxis3={"title": {"text": "SPE"}},
        xaxis3={"title": {"text": "hours since the batch started"}},
        legend={"orientation": "h", "y": -0.1},
        uirevision=view.monitor,
    )


def soft_figure(view: SoftSensorView, zone: ZoneInfo) -> dict[str, Any]:
    """A soft sensor's streamed predictions (one line per output tag), predictions
    outside the applicability domain marked; texts not yet escaped."""
    data: list[dict[str, Any]] = []
    for tag, (times, values, quality) in view.series.items():
        x = [_axis(t, zone) for t in times]
        hover = "%{customdata}<br>%{x}<br>%{y:.4g}<extra></extra>"
        data.append(_trace("lines+markers", tag.rsplit("/", 1)[-1], x, values, 1,
                           marker={"size": 4}, customdata=[tag] * len(x),
                           hovertemplate=hover))  # fmt: skip
        odd = [i for i, q in enumerate(quality) if q != "good"]
        data.append(_trace("markers", "outside the domain", [x[i] for i in odd],
                           [values[i] for i in odd], 1, showlegend=False,
                           marker={"size": 9, "symbol": "x", "color": "#d62728"}))  # fmt: skip
    return _figure(
        data,
        f"{view.monitor} · predictions (x: outside the domain)",
        320,
        xaxis={"type": "date"},
        legend={"orientation": "h", "y": -0.2},
        uirevision=view.monitor,
    )
