"""The Live page (``/live``): the running plant of the chosen site, updated by push.

From top to bottom: a status line (plant events taken, the latest one, where they come
from, sources that cannot be read) with the legend of the ISO 22400 equipment states;
the process layout, areas > process cells > unit tiles (ISA-95), each tile coloured by
its unit's state and naming it in words (colour is never the only cue), since when, and
the batch, unit procedure and phase; the active alarms and the running batches with
their current step; a trend of tags picked from the historian's tag list (Plotly, the
last 5, 15 or 60 minutes; ``?tag=...&minutes=...`` preselects).

Push: a :func:`nicegui.ui.timer` every :data:`REFRESH_S` reads
:class:`~phactory.app.services.live.LiveService` off the event loop (one read at a time;
a trend read for tags no longer picked is dropped) and changes only what changed: the
snapshot's version says whether anything did, and each tile, table and line is compared
with what it shows. A raw trend is extended in place (Plotly ``extendTraces`` with the
new points only, the time axis moved on; the figure is sent whole only when the tags or
the window change, and every :data:`REDRAW_S` to let old points go). Every rule (what a
unit's state is, which batches run, what is an alarm, raw or grid) is the service's;
this page only shows.

Every text reaches the browser as element text (labels, table cells, select options);
the chart's texts go through :func:`phactory.app.ui.safety.safe_figure`; test ids and
attributes made of unit names are set by key (:func:`phactory.app.ui.safety.set_prop`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from nicegui import run, ui

from phactory.app.services.live_views import STATE_MEANINGS
from phactory.app.ui import safety
from phactory.app.ui.charts import STATE_COLOURS
from phactory.app.ui.layout import PageContext, section, workspace_page
from phactory.app.ui.widgets import RowTable
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    import pandas as pd

    from phactory.app.services.live import (
        Alarm,
        BatchLive,
        LiveService,
        LiveSnapshot,
        PlantLayout,
        TrendBuffer,
        TrendTag,
        UnitLive,
    )

__all__ = ["live_page", "state_label", "text_colour", "trend_figure"]

#: How often the page reads the service [s] (the service refreshes every 0.2 s).
REFRESH_S: Final = 0.25
#: How often the tag list is read again [s].
TAGS_S: Final = 10.0
#: How often a raw trend is sent whole, dropping the points that left its window [s].
REDRAW_S: Final = 60.0
#: Trend windows offered [min].
WINDOWS: Final[dict[int, str]] = {5: "Last 5 min", 15: "Last 15 min", 60: "Last hour"}
_SEVERITY_ICONS: Final = {"critical": "error", "major": "warning", "minor": "info"}
_SEVERITY_COLOURS: Final = {"critical": "negative", "major": "orange-9", "minor": "grey-8"}
_FEEDING: Final = (
    "run the site's controllers publishing to MQTT (`phactory control run SITE --mqtt "
    "mqtt://127.0.0.1:1883`) and store what they publish (`phactory mqtt ingest`)"
)
_FEED_HINT: Final = (
    f"No plant events for this site yet. Feed the historian: {_FEEDING}; batches run in "
    "this server appear by themselves."
)
_TAGS_HINT: Final = f"No tags of this site in the historian yet: {_FEEDING}."
_BATCH_COLUMNS: Final[list[dict[str, Any]]] = [
    {"name": "batch", "label": "Batch", "field": "batch", "align": "left"},
    {"name": "product", "label": "Product", "field": "product", "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "step", "label": "Current step", "field": "step", "align": "left"},
    {"name": "unit", "label": "Unit", "field": "unit", "align": "left"},
    {"name": "progress", "label": "Steps", "field": "progress", "align": "right"},
    {"name": "waiting", "label": "Waiting for", "field": "waiting", "align": "left"},
]
_ALARM_COLUMNS: Final[list[dict[str, Any]]] = [
    {"name": "severity", "label": "Severity", "field": "severity", "align": "left"},
    {"name": "source", "label": "Source", "field": "source", "align": "left"},
    {"name": "message", "label": "Alarm", "field": "message", "align": "left"},
    {"name": "since", "label": "Since", "field": "since", "align": "left"},
]


def state_label(state: str) -> str:
    """An ISO 22400 state in words (``waiting_upstream`` -> ``waiting upstream``)."""
    return state.replace("_", " ")


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (``#rrggbb``), by the
    WCAG 2.1 relative luminance (contrast ratio against each)."""
    channels = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    on_black = (luminance + 0.05) / 0.05
    on_white = 1.05 / (luminance + 0.05)
    return "#111111" if on_black >= on_white else "#ffffff"


def _when(t: dt.datetime, zone: ZoneInfo, now: dt.datetime) -> str:
    """``08:05:12`` (today, site time) or ``2027-01-04 08:05``."""
    local = t.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return f"{local:%H:%M:%S}"
    return f"{local:%Y-%m-%d %H:%M}"


def since_text(since: dt.datetime | None, zone: ZoneInfo, now: dt.datetime) -> str:
    """``since 08:05:12`` (today, site time) or ``since 2027-01-04 08:05``; ``no report``."""
    return "no report yet" if since is None else f"since {_when(since, zone, now)}"


def work_text(unit: UnitLive) -> str:
    """The batch, unit procedure and phase a unit works on, in one line."""
    step = "/".join(p for p in (unit.procedure, unit.phase) if p)
    return " · ".join(p for p in (unit.batch, step) if p)


def status_text(layout: PlantLayout, zone: ZoneInfo) -> str:
    """Events taken, the latest, and the sources."""
    sources = ", ".join(layout.sources) or "none"
    if layout.last_event_at is None:
        return f"No plant events yet · sources: {sources}"
    last = layout.last_event_at.astimezone(zone)
    return (
        f"{layout.events:,} plant events · latest at {last:%Y-%m-%d %H:%M:%S} "
        f"({layout.timezone}) · sources: {sources}"
    )


def batch_row(b: BatchLive) -> dict[str, str]:
    """A running batch as a table row (text only)."""
    step = b.step or "—"
    if b.step and b.step_state:
        step = f"{b.step} ({b.step_state})"
    waiting = b.waiting_for or ""
    if b.hold_reason:
        waiting = f"{waiting} — held: {b.hold_reason}" if waiting else f"held: {b.hold_reason}"
    return {
        "batch": b.batch_id,
        "product": b.product,
        "state": b.state,
        "step": step,
        "unit": b.step_unit or "—",
        "progress": f"{b.steps_done}/{b.steps_total}",
        "waiting": waiting or "—",
    }


def alarm_row(a: Alarm, zone: ZoneInfo, now: dt.datetime) -> dict[str, str]:
    """An alarm as a table row (text only)."""
    return {
        "key": a.key,
        "severity": a.severity,
        "source": a.source,
        "message": a.message,
        "since": _when(a.since, zone, now) if a.since else "—",
    }


def _axis_time(t: dt.datetime, zone: ZoneInfo) -> str:
    return t.astimezone(zone).replace(tzinfo=None).isoformat(timespec="milliseconds")


def trend_figure(
    buffer: TrendBuffer, tags: dict[str, TrendTag], zone: ZoneInfo, now: dt.datetime
) -> dict[str, Any]:
    """The trend as a Plotly figure (one line per tag, times in site time), texts not
    yet escaped (:func:`~phactory.app.ui.safety.safe_figure` does)."""
    data = []
    for tag in buffer.tags:
        meta = tags.get(tag)
        unit = f" [{meta.unit}]" if meta is not None and meta.unit else ""
        name = tag.split("/", 1)[-1] + unit
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers" if buffer.step is None else "lines",
                "marker": {"size": 4},
                "line": {"width": 1.6},
                "name": name,
                "x": [_axis_time(t, zone) for t in buffer.times[tag]],
                "y": list(buffer.values[tag]),
                "hovertemplate": "%{x}<br>%{y:.4g}<extra>%{fullData.name}</extra>",
            }
        )
    how = "raw samples" if buffer.step is None else f"means every {buffer.step.total_seconds():g} s"
    return {
        "data": data,
        "layout": {
            "title": {"text": f"Last {_minutes(buffer.window)} min · {how}", "x": 0.0},
            "height": 380,
            "template": "plotly_white",
            "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
            "legend": {"orientation": "h", "y": -0.18},
            "xaxis": {"type": "date", "range": _range(buffer, zone, now)},
            "uirevision": "live",
        },
        "config": {"displaylogo": False, "responsive": True},
    }


def _minutes(window: dt.timedelta) -> str:
    return f"{window.total_seconds() / 60:g}"


def _range(buffer: TrendBuffer, zone: ZoneInfo, now: dt.datetime) -> list[str]:
    end = buffer.end(now)
    return [_axis_time(end - buffer.window, zone), _axis_time(end, zone)]


@dataclass
class _Tile:
    """A unit's tile and what it shows."""

    box: Any
    state: Any
    since: Any
    work: Any
    shown: UnitLive | None = None


@dataclass
class _Shown:
    """What the page shows now, to change only what changed."""

    version: int = -1
    layout_key: tuple[object, ...] = ()
    tiles: dict[str, _Tile] = field(default_factory=dict)
    status: str = ""
    problems: tuple[str, ...] = ()
    batches: tuple[BatchLive, ...] | None = None
    alarms: tuple[Alarm, ...] | None = None
    tags: tuple[TrendTag, ...] | None = None


class _LivePage:
    """The elements of the page and their updates (see the module docstring)."""

    def __init__(self, pc: PageContext, service: LiveService, site_id: str, zone: ZoneInfo):
        self.pc = pc
        self.service = service
        self.site_id = site_id
        self.zone = zone
        self.shown = _Shown()
        #: Whether a read is in flight (one at a time, so they are shown in order).
        self.busy = False
        #: The trend: its generation (changes when the tags or the window do).
        self.trend_gen = 0
        self.buffer: TrendBuffer | None = None
        self.tag_meta: dict[str, TrendTag] = {}
        self.drawn_at = 0.0
        self.moved_at = 0.0
        self.tags_at = 0.0
        self._build()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        with section(
            "Live plant",
            "Every unit of the site on the process layout with its ISO 22400 equipment "
            "state, the active alarms, the running batches and trends of the historian's "
            "tags, updated as the plant reports.",
        ):
            self.status = safety.slug_testid(ui.label("").classes("text-grey-8"), "live-status")
            self.problems = safety.slug_testid(
                ui.label("").classes("text-negative"), "live-problems"
            )
            self.problems.set_visibility(False)
            self.hint = safety.slug_testid(ui.label(_FEED_HINT).classes("text-grey-8"), "live-hint")
            self.hint.set_visibility(False)
            with safety.slug_testid(ui.row().classes("items-center gap-3"), "live-legend"):
                for state, colour in STATE_COLOURS.items():
                    with ui.row().classes("items-center gap-1 no-wrap"):
                        swatch = ui.element("div").classes("rounded-borders")
                        swatch.style(
                            f"width:14px;height:14px;background:{colour};border:1px solid #999"
                        )
                        ui.label(state_label(state)).classes("text-caption")
                        swatch.tooltip(STATE_MEANINGS.get(state, ""))
        self.plant = ui.column().classes("w-full gap-3")
        with ui.row().classes("w-full gap-4 no-wrap items-start"):
            with section("Alarms", "Open deviations of running batches, controller faults, "
                         "units that are down.").classes("w-1/2"):  # fmt: skip
                self.alarm_table = RowTable(
                    _ALARM_COLUMNS, "key", "No active alarms.", "alarms", "live"
                )
            with section("Running batches", "Each batch's step in flight or next.").classes(
                "w-1/2"
            ):
                self.batch_table = RowTable(
                    _BATCH_COLUMNS, "batch", "No batch is running.", "batches", "live"
                )
        with section("Trend", "Tags of the historian (the unified namespace below the site)."):
            with ui.row().classes("w-full items-center gap-3"):
                self.tag_select = safety.slug_testid(
                    ui.select({}, multiple=True, label="Tags", with_input=True)
                    .props("outlined dense use-chips options-dense")
                    .classes("min-w-[28rem]"),
                    "live-trend-tags",
                )
                self.tag_select.on_value_change(lambda _: self.restart_trend())
                self.window = safety.slug_testid(
                    ui.select(WINDOWS, value=self._minutes_wanted(), label="Window")
                    .props("outlined dense")
                    .classes("min-w-[10rem]"),
                    "live-trend-window",
                )
                self.window.on_value_change(lambda _: self.restart_trend())
            self.trend_note = safety.slug_testid(
                ui.label("").classes("text-grey-7"), "live-trend-note"
            )
            self.plot = safety.slug_testid(
                ui.plotly({"data": [], "layout": {"height": 380}}).classes("w-full"), "live-trend"
            )
            self.plot.style("height: 380px")
            self.plot.set_visibility(False)

    def _minutes_wanted(self) -> int:
        try:
            wanted = int(float(self.pc.query("minutes") or 15))
        except (ValueError, OverflowError):  # not a number, or ?minutes=inf
            wanted = 15
        return wanted if wanted in WINDOWS else 15

    def _build_plant(self, layout: PlantLayout) -> None:
        self.shown.tiles.clear()
        self.plant.clear()
        with self.plant:
            for area in layout.areas:
                with safety.slug_testid(
                    ui.card().classes("w-full q-pa-sm gap-2"), "live-area", area.id
                ):
                    title = area.name if area.name == area.id else f"{area.name} ({area.id})"
                    ui.label(title).classes("text-subtitle1 text-primary text-weight-medium")
                    with ui.row().classes("w-full gap-3 items-start"):
                        for cell in area.cells:
                            self._build_cell(cell.id, cell.name, cell.units)

    def _build_cell(self, cell_id: str, name: str, units: tuple[UnitLive, ...]) -> None:
        box = ui.element("div").classes("q-pa-sm rounded-borders")
        box.style("border: 1px dashed #b0b8c4")
        with safety.slug_testid(box, "live-cell", cell_id):
            ui.label(name if name == cell_id else f"{name} ({cell_id})").classes(
                "text-caption text-grey-8 text-weight-medium"
            )
            with ui.row().classes("gap-2"):
                for unit in units:
                    self.shown.tiles[unit.id] = self._build_tile(unit)

    def _build_tile(self, unit: UnitLive) -> _Tile:
        box = safety.slug_testid(ui.element("div"), "unit-tile", unit.id)
        box.classes("q-pa-sm rounded-borders column no-wrap gap-0 shadow-1")
        box.style("width: 11.5rem; min-height: 6.2rem")
        with box:
            ui.label(unit.id).classes("text-weight-bold")
            if unit.name != unit.id:
                ui.label(unit.name).classes("text-caption ellipsis").style("opacity: .85")
            state = safety.slug_testid(
                ui.label("").classes("text-weight-medium"), "unit-state", unit.id
            )
            since = ui.label("").classes("text-caption")
            work = ui.label("").classes("text-caption ellipsis")
        tile = _Tile(box, state, since, work)
        self._show_tile(tile, unit)
        return tile

    # ------------------------------------------------------------------ showing
    def _show_tile(self, tile: _Tile, unit: UnitLive) -> None:
        if tile.shown == unit:
            return
        colour = STATE_COLOURS.get(unit.state, "#e8e8e8")
        tile.box.style(f"background: {colour}; color: {text_colour(colour)}")
        safety.set_prop(tile.box, "data-state", unit.state)
        tile.state.set_text(state_label(unit.state))
        tile.since.set_text(since_text(unit.since, self.zone, dt.datetime.now(dt.UTC)))
        work = work_text(unit)
        tile.work.set_text(work or "no batch")
        safety.set_prop(tile.work, "title", work)  # the whole line, where it is cut
        tile.shown = unit

    def show(self, snap: LiveSnapshot) -> None:
        """Show what changed in ``snap``."""
        shown = self.shown
        if snap.version == shown.version:
            return
        shown.version = snap.version
        layout = snap.layout
        key = tuple((a.id, tuple((c.id, tuple(u.id for u in c.units)) for c in a.cells))
                    for a in layout.areas)  # fmt: skip
        if key != shown.layout_key:
            shown.layout_key = key
            self._build_plant(layout)
        else:
            for unit in layout.units:
                tile = shown.tiles.get(unit.id)
                if tile is not None:
                    self._show_tile(tile, unit)
        status = status_text(layout, self.zone)
        if status != shown.status:
            shown.status = status
            self.status.set_text(status)
        self.hint.set_visibility(layout.events == 0)
        if layout.problems != shown.problems:
            shown.problems = layout.problems
            self.problems.set_text(" · ".join(layout.problems))
            self.problems.set_visibility(bool(layout.problems))
        now = dt.datetime.now(dt.UTC)
        if snap.alarms != shown.alarms:
            shown.alarms = snap.alarms
            self.alarm_table.show([alarm_row(a, self.zone, now) for a in snap.alarms])
        if snap.batches != shown.batches:
            shown.batches = snap.batches
            self.batch_table.show([batch_row(b) for b in snap.batches])

    def show_tags(self, tags: tuple[TrendTag, ...]) -> None:
        """Offer ``tags`` (keeping those picked)."""
        if tags == self.shown.tags:
            return
        self.shown.tags = tags
        self.tag_meta = {t.name: t for t in tags}
        prefix = f"{self.site_id}/"
        options = {
            t.name: t.name.removeprefix(prefix) + (f" [{t.unit}]" if t.unit else "") for t in tags
        }
        picked = [v for v in (self.tag_select.value or []) if v in options]
        self.tag_select.set_options(options, value=picked)
        if not tags:
            self.trend_note.set_text(_TAGS_HINT)
        elif not picked:
            self.trend_note.set_text("Pick tags to trend them.")

    # ------------------------------------------------------------------ trend
    def restart_trend(self) -> None:
        """The tags or the window changed: the next read draws the trend anew."""
        from phactory.app.services.live import TrendBuffer

        self.trend_gen += 1
        tags = [str(t) for t in (self.tag_select.value or [])]
        if not tags:
            self.buffer = None
            self.plot.set_visibility(False)
            self.trend_note.set_text("Pick tags to trend them." if self.shown.tags else "")
            return
        minutes = int(self.window.value or 15)
        self.buffer = TrendBuffer(tags, dt.timedelta(minutes=minutes))
        self.drawn_at = 0.0

    def show_trend(self, frame: pd.DataFrame, gen: int) -> None:
        """Extend (or draw) the trend with a read begun at generation ``gen``."""
        buffer = self.buffer
        if buffer is None or gen != self.trend_gen:
            return  # read for tags or a window no longer shown
        now = dt.datetime.now(dt.UTC)
        last = {t: (v[-1] if v else None) for t, v in buffer.times.items()}
        changed = buffer.merge(frame, now)
        clock = time.monotonic()
        first = self.drawn_at == 0.0
        if buffer.step is not None:  # on a grid: read whole, drawn whole when it changed
            if changed or first:
                self._draw(buffer, now, clock)
            return
        if first or clock - self.drawn_at > REDRAW_S:
            self._draw(buffer, now, clock)
            return
        # Raw: send only the new points (trace -> times, values), and move the time axis on.
        new: dict[int, tuple[list[str], list[float]]] = {}
        for i, tag in enumerate(buffer.tags):
            times, values = buffer.times[tag], buffer.values[tag]
            seen = last[tag]
            start = 0 if seen is None else bisect.bisect_right(times, seen)
            if start < len(times):
                new[i] = ([_axis_time(t, self.zone) for t in times[start:]], values[start:])
        if new:
            xs, ys = [x for x, _ in new.values()], [y for _, y in new.values()]
            self.plot.run_plot_method("extendTraces", {"x": xs, "y": ys}, list(new))
            self._sync_figure(buffer, new)
            self._note(buffer)
        if new or clock - self.moved_at >= 1.0:
            self.moved_at = clock
            axis = _range(buffer, self.zone, now)
            self.plot.figure["layout"]["xaxis"]["range"] = axis
            self.plot.run_plot_method("relayout", {"xaxis.range": axis})

    def _draw(self, buffer: TrendBuffer, now: dt.datetime, clock: float) -> None:
        """Send the whole figure."""
        figure = trend_figure(buffer, self.tag_meta, self.zone, now)
        self.plot.update_figure(safety.safe_figure(figure))
        self.plot.set_visibility(True)
        self.drawn_at = self.moved_at = clock
        self._note(buffer)

    def _sync_figure(
        self, buffer: TrendBuffer, new: dict[int, tuple[list[str], list[float]]]
    ) -> None:
        """Keep the element's figure (what a reconnecting browser is sent) as the buffer:
        changed in place, since it is the very dict the element holds (NiceGUI sends it
        only on ``update``), by appending the ``new`` points of each trace and dropping
        those that left the window (times are ISO text, unchanged by escaping)."""
        for i, (trace, tag) in enumerate(zip(self.plot.figure["data"], buffer.tags, strict=True)):
            if i in new:
                trace["x"].extend(new[i][0])
                trace["y"].extend(new[i][1])
            extra = len(trace["x"]) - len(buffer.times[tag])
            if extra > 0:
                del trace["x"][:extra]
                del trace["y"][:extra]

    def _note(self, buffer: TrendBuffer) -> None:
        empty = [t.split("/", 1)[-1] for t in buffer.tags if not buffer.times[t]]
        note = ""
        if empty:
            note = f"No numeric values in the window for: {', '.join(empty)}"
        self.trend_note.set_text(note)

    # ------------------------------------------------------------------ reading
    async def tick(self) -> None:
        """Read the service off the event loop and show what changed."""
        if self.busy:
            return
        self.busy = True
        gen, buffer = self.trend_gen, self.buffer
        clock = time.monotonic()
        want_tags = clock - self.tags_at > TAGS_S
        if want_tags:
            self.tags_at = clock
        request = None
        if buffer is not None:
            request = (list(buffer.tags), buffer.window, buffer.since())
        try:
            found = await run.io_bound(self._read, request, want_tags)
        except PhactoryError as exc:
            self.status.set_text(f"The live plant cannot be read: {exc}")
            return
        finally:
            self.busy = False
        if found is None:  # the client went away
            return
        snap, tags, frame, trend_error = found
        self.show(snap)
        if tags is not None:
            self.show_tags(tags)
        if trend_error is not None and gen == self.trend_gen:
            self.trend_note.set_text(trend_error)
        elif frame is not None:
            self.show_trend(frame, gen)

    def _read(
        self,
        request: tuple[list[str], dt.timedelta, dt.datetime | None] | None,
        want_tags: bool,
    ) -> tuple[LiveSnapshot, tuple[TrendTag, ...] | None, pd.DataFrame | None, str | None]:
        """The snapshot, the tags (if due) and the trend's new points (blocking)."""
        snap = self.service.snapshot(self.site_id)
        tags = None
        if want_tags:
            try:
                tags = self.service.tags(self.site_id)
            except PhactoryError:
                tags = None
        frame, error = None, None
        if request is not None:
            try:
                frame = self.service.trend(request[0], request[1], since=request[2])
            except PhactoryError as exc:
                error = f"The trend cannot be read: {exc}"
        return snap, tags, frame, error


@workspace_page("/live", "Live")
async def live_page(pc: PageContext) -> None:
    if pc.site_id is None:
        return
    service = pc.app.live
    site_id = pc.site_id
    try:
        snap = await run.io_bound(service.snapshot, site_id)
    except PhactoryError as exc:
        ui.label(f"The live plant of {site_id} cannot be read: {exc}").classes("text-negative")
        return
    if snap is None:  # the client went away
        return
    zone = ZoneInfo(snap.layout.timezone)
    page = _LivePage(pc, service, site_id, zone)
    page.show(snap)
    wanted = pc.request.query_params.getlist("tag")
    if wanted:
        try:
            tags = await run.io_bound(service.tags, site_id)
        except PhactoryError:  # the historian cannot be opened: the problems line says so
            tags = None
        if tags is not None:
            page.tags_at = time.monotonic()
            page.show_tags(tags)
            names = {t.name for t in tags}
            page.tag_select.value = [t for t in wanted if t in names]
    ui.timer(REFRESH_S, page.tick)
