"""The Monitoring page (``/monitoring``): the deployed monitoring models of the live plant,
their control charts, their alarms and what people did about them.

From top to bottom: the deployed models (family, unit, how they run, whether their alarm
is raised or shelved, why one does not run); the control charts of the chosen model
(Hotelling T2 and SPE over the chosen window with their limits, alarm rows marked;
Plotly); the alarms to annunciate (ISA-18.2: active, or returned to normal and not
acknowledged) with acknowledge and shelve for operators, the contribution bar chart of
the chosen alarm (every variable, in units of its statistic's limit) and its history;
the latest lines of the whole alarm history (who did what, when); and the streamed
predictions of soft sensors and the remaining-useful-life predictions of the models
deployed for them (:mod:`phactory.app.services.monitor_families`).

Push: a :func:`nicegui.ui.timer` every :data:`REFRESH_S` reads the service off the event
loop (one read at a time) and redraws only what changed. Every rule (which alarms to
annunciate, who may acknowledge, how long a shelving may last) is
:class:`~phactory.app.services.monitoring.MonitorService`'s; refusals are shown as they
come. Every text reaches the browser as element text (labels, table cells, select
options, notifications); the charts' texts go through
:func:`phactory.app.ui.safety.safe_figure`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from nicegui import run, ui

from phactory.app.ui import safety
from phactory.app.ui.layout import PageContext, section, workspace_page
from phactory.app.ui.monitor_charts import (
    batch_figure,
    contribution_figure,
    control_figure,
    soft_figure,
)
from phactory.app.ui.widgets import RowTable
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.app.services.monitor_alarms import AlarmDetail
    from phactory.app.services.monitor_families import (
        FamilyViews,
        RulView,
    )
    from phactory.app.services.monitoring import MonitorService, MonitorView, ScoreSeries
    from phactory.live.alarms import AlarmEvent, AlarmRecord

__all__ = ["alarm_row", "history_row", "model_row", "monitoring_page", "rul_row"]

#: How often the page reads the service [s].
REFRESH_S: Final = 2.0
#: Chart windows offered [min].
WINDOWS: Final[dict[int, str]] = {
    15: "Last 15 min", 60: "Last hour", 480: "Last 8 h", 1440: "Last 24 h"
}  # fmt: skip
_SHELVE_FOR: Final = {15: "15 min", 60: "1 h", 240: "4 h", 720: "12 h", 1440: "24 h"}
_STATES: Final = {
    "unack": "active, unacknowledged",
    "acked": "active, acknowledged",
    "rtn_unack": "cleared, unacknowledged",
    "normal": "cleared, acknowledged",
}


def _columns(labels: dict[str, str], right: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Table columns, field -> label, left-aligned but those named in ``right``."""
    return [
        {"name": f, "label": label, "field": f, "align": "right" if f in right else "left"}
        for f, label in labels.items()
    ]


_MODEL_COLUMNS: Final = _columns({
    "name": "Model", "family": "Family", "where": "Site / unit", "status": "Status",
    "alarm": "Alarm", "scan": "Last scan",
})  # fmt: skip
_ALARM_COLUMNS: Final = _columns({
    "state": "State", "monitor": "Model", "raised": "Raised", "statistic": "Statistic",
    "tags": "Top contributing tags", "batch": "Batch / deviation", "ack": "Acknowledged",
})  # fmt: skip
_RUL_COLUMNS: Final = _columns({
    "monitor": "Model", "unit": "Unit", "at": "At", "rul": "Remaining life",
    "interval": "Interval",
}, right=("rul",))  # fmt: skip
_HISTORY_COLUMNS: Final = _columns({
    "at": "When", "monitor": "Model", "alarm": "Alarm", "kind": "What", "actor": "Who",
    "note": "Note",
}, right=("alarm",))  # fmt: skip


def _when(t: dt.datetime | None, zone: ZoneInfo) -> str:
    return "—" if t is None else f"{t.astimezone(zone):%Y-%m-%d %H:%M:%S}"


def model_row(m: MonitorView, zone: ZoneInfo) -> dict[str, str]:
    """A deployed model as a table row (text only)."""
    status = m.status + (f": {m.problem}" if m.problem else "")
    alarm = "raised" if m.alarm_active else "—"
    if m.shelved_until is not None:
        alarm += f" · shelved until {_when(m.shelved_until, zone)} by {m.shelved_by}"
    return {
        "name": m.name,
        "family": f"{m.family} ({m.method})" if m.method else m.family,
        "where": f"{m.site or '—'} / {m.unit or '—'}",
        "status": status,
        "alarm": alarm,
        "scan": _when(m.last_scan_at, zone),
    }


def alarm_row(a: AlarmRecord, zone: ZoneInfo) -> dict[str, Any]:
    """An alarm as a table row (text only)."""
    batch = "—"
    if a.batch_id:
        batch = a.batch_id + (f" · {a.deviation_id}" if a.deviation_id else "")
    ack = "—" if a.acked_at is None else f"{a.acked_by} at {_when(a.acked_at, zone)}"
    return {
        "id": a.id,
        "state": _STATES.get(a.state, a.state),
        "monitor": a.monitor,
        "raised": _when(a.raised_at, zone),
        "statistic": a.statistic.upper(),
        "tags": ", ".join(c.tag for c in a.top) or "—",
        "batch": batch,
        "ack": ack,
    }


def history_row(e: AlarmEvent, zone: ZoneInfo) -> dict[str, Any]:
    """A line of the alarm history as a table row (text only)."""
    return {
        "id": e.id, "at": _when(e.at, zone), "monitor": e.monitor,
        "alarm": "" if e.alarm_id is None else str(e.alarm_id), "kind": e.kind,
        "actor": e.actor, "note": e.note,
    }  # fmt: skip


def rul_row(view: RulView, zone: ZoneInfo) -> dict[str, str]:
    """A RUL model's latest prediction as a table row (text only)."""

    def num(x: float | None) -> str:
        return "—" if x is None else f"{x:.4g}"

    # With a prediction but no upper bound, the calibration had too few units to bound
    # it (the conformal level went over 1): the interval is open, not unknown.
    upper = "∞" if view.rul is not None and view.upper is None else num(view.upper)
    return {
        "monitor": view.monitor, "unit": view.unit, "at": _when(view.at, zone),
        "rul": num(view.rul), "interval": f"{num(view.lower)} – {upper}",
    }  # fmt: skip


@dataclass
class _Shown:
    """What the page shows now, to change only what changed."""

    models: list[dict[str, str]] | None = None
    alarms: list[dict[str, Any]] | None = None
    history: list[dict[str, Any]] | None = None
    chart_key: tuple[object, ...] = ()
    detail_key: tuple[object, ...] = ()
    families: object = None
    names: list[str] = field(default_factory=list)


class _MonitoringPage:
    """The elements of the page and their updates (see the module docstring)."""

    def __init__(self, pc: PageContext, service: MonitorService, zone: ZoneInfo) -> None:
        self.pc = pc
        self.service = service
        self.zone = zone
        self.shown = _Shown()
        self.busy = False
        self.selected: int | None = None
        self._build()

    def _build(self) -> None:
        with section("Deployed models", "Monitoring models scoring the live plant's historian "
                     "(phactory monitor fit ... --out MODEL.json, then deploy it over the API "
                     "or with phactory monitor watch)."):  # fmt: skip
            self.models = RowTable(
                _MODEL_COLUMNS, "name", "No model is deployed.", "models", "monitor"
            )
        with section("Control charts", "Hotelling T2 and SPE of the chosen model with their "
                     "limits: red points are over a limit, shaded spans are alarms (after the "
                     "model's persistence rule)."):  # fmt: skip
            with ui.row().classes("items-center gap-3"):
                self.model_select = safety.slug_testid(
                    ui.select({}, label="Model").props("outlined dense").classes("min-w-[16rem]"),
                    "monitor-model-select",
                )
                self.window = safety.slug_testid(
                    ui.select(WINDOWS, value=60, label="Window")
                    .props("outlined dense")
                    .classes("min-w-[10rem]"),
                    "monitor-window",
                )
            self.chart_note = safety.slug_testid(
                ui.label("").classes("text-grey-7"), "monitor-chart-note"
            )
            self.chart = safety.slug_testid(
                ui.plotly({"data": [], "layout": {"height": 460}}).classes("w-full"),
                "monitor-chart",
            )
            self.chart.style("height: 460px")
            self.chart.set_visibility(False)
            self.model_select.on_value_change(lambda _: self._reset_chart())
            self.window.on_value_change(lambda _: self._reset_chart())
        with section("Alarms", "Active alarms and those that returned to normal before anyone "
                     "acknowledged them (ISA-18.2). Pick one for its contributions."):  # fmt: skip
            self.alarms = RowTable(_ALARM_COLUMNS, "id", "No alarm to show.", "alarms", "monitor")
            self.alarms.table.props("selection=single")
            self.alarms.table.on_select(self._picked)
            operator = self.pc.user.has("operator")
            with ui.row().classes("items-center gap-3"):
                self.ack_button = safety.slug_testid(
                    ui.button("Acknowledge", icon="done", on_click=self._acknowledge), "monitor-ack"
                )
                self.shelve_button = safety.slug_testid(
                    ui.button("Shelve…", icon="snooze", on_click=self._shelve_dialog),
                    "monitor-shelve",
                ).props("outline")
                for b in (self.ack_button, self.shelve_button):
                    b.set_enabled(False)
                    b.set_visibility(operator)
            self.detail_note = safety.slug_testid(
                ui.label("").classes("text-grey-8"), "monitor-alarm-detail"
            )
            self.bars = safety.slug_testid(
                ui.plotly({"data": [], "layout": {"height": 300}}).classes("w-full"),
                "monitor-contributions",
            )
            self.bars.set_visibility(False)
        with section("Alarm history", "Raised, cleared, acknowledged, shelved: who and when."):
            self.history = RowTable(_HISTORY_COLUMNS, "id", "Nothing yet.", "history", "monitor")
        self.families = ui.column().classes("w-full gap-4")

    # ------------------------------------------------------------------ actions
    def _unpick(self) -> None:
        self.alarms.table.selected = []
        self.alarms.table.update()
        self.selected = None
        self.ack_button.set_enabled(False)
        self.shelve_button.set_enabled(False)
        self.shown.detail_key = ()

    def _picked(self, event: Any) -> None:
        rows = event.selection
        self.selected = int(rows[0]["id"]) if rows else None
        self.ack_button.set_enabled(self.selected is not None)
        self.shelve_button.set_enabled(self.selected is not None)
        self.shown.detail_key = ()

    async def _acknowledge(self) -> None:
        if self.selected is None:
            return
        try:
            await run.io_bound(self.service.desk.acknowledge, self.pc.user, self.selected, "")
        except PhactoryError as exc:
            ui.notify(str(exc), type="negative")
            return
        ui.notify(f"Alarm {self.selected} acknowledged", type="positive")
        await self.tick()

    def _shelve_dialog(self) -> None:
        if self.selected is None:
            return
        alarm_id = self.selected
        with ui.dialog() as dialog, ui.card().classes("q-pa-md min-w-[26rem]"):
            ui.label(f"Shelve the model of alarm {alarm_id}").classes("text-h6")
            ui.label("Its alarms are recorded but not annunciated until then; deviations "
                     "are still opened.").classes("text-caption text-grey-8")  # fmt: skip
            reason = safety.slug_testid(
                ui.input("Reason (required)").props("outlined dense").classes("w-full"),
                "monitor-shelve-reason",
            )
            minutes = safety.slug_testid(
                ui.select(_SHELVE_FOR, value=60, label="For").props("outlined dense"),
                "monitor-shelve-minutes",
            )

            async def confirm() -> None:
                try:
                    await run.io_bound(
                        lambda: self.service.desk.shelve(
                            self.pc.user, alarm_id, str(reason.value or ""),
                            minutes=float(minutes.value or 60),
                        )
                    )  # fmt: skip
                except PhactoryError as exc:
                    ui.notify(str(exc), type="negative")
                    return
                dialog.close()
                ui.notify(f"Shelved for {minutes.value} min", type="positive")
                await self.tick()

            with ui.row().classes("justify-end w-full"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                safety.slug_testid(ui.button("Shelve", on_click=confirm), "monitor-shelve-ok")
        dialog.open()

    def _reset_chart(self) -> None:
        self.shown.chart_key = ()

    # ------------------------------------------------------------------ reading
    async def tick(self) -> None:
        """Read the service off the event loop and show what changed."""
        if self.busy:
            return
        self.busy = True
        name = self.model_select.value
        minutes = int(self.window.value or 60)
        selected = self.selected
        try:
            found = await run.io_bound(self._read, name, minutes, selected)
        except PhactoryError as exc:
            self.chart_note.set_text(f"Monitoring cannot be read: {exc}")
            return
        finally:
            self.busy = False
        if found is not None:  # run.io_bound gives None when the app shuts down
            self.show(*found, name=name, minutes=minutes)

    def _read(self, name: str | None, minutes: int, selected: int | None) -> tuple[Any, ...]:
        user = self.pc.user
        models = self.service.monitors(user)
        alarms = self.service.desk.annunciated(user)
        history = self.service.desk.history(user, limit=50)
        series = None
        if name and any(m.name == name and m.family == "mspc" for m in models):
            series = self.service.scores(user, name, float(minutes))
        detail = self.service.desk.detail(user, selected) if selected is not None else None
        extras = self.service.family_views(user, models)
        return models, alarms, history, series, detail, extras

    def show(
        self,
        models: list[MonitorView],
        alarms: list[AlarmRecord],
        history: list[AlarmEvent],
        series: ScoreSeries | None,
        detail: AlarmDetail | None,
        extras: FamilyViews,
        *,
        name: str | None,
        minutes: int,
    ) -> None:
        """Show what changed."""
        z = self.zone
        rows = [model_row(m, z) for m in models]
        if rows != self.shown.models:
            self.shown.models = rows
            self.models.show(rows)
        names = [m.name for m in models if m.family == "mspc"]
        if names != self.shown.names:
            self.shown.names = names
            value = name if name in names else (names[0] if names else None)
            self.model_select.set_options(names, value=value)
        alarm_rows = [alarm_row(a, z) for a in alarms]
        if alarm_rows != self.shown.alarms:
            self.shown.alarms = alarm_rows
            self.alarms.show(alarm_rows)
            if self.selected is not None and self.selected not in {a.id for a in alarms}:
                self._unpick()  # the picked alarm is no longer annunciated
        history_rows = [history_row(e, z) for e in history]
        if history_rows != self.shown.history:
            self.shown.history = history_rows
            self.history.show(history_rows)
        self._show_chart(series, name, minutes)
        self._show_detail(detail)
        _families(self, extras)

    def _show_chart(self, series: ScoreSeries | None, name: str | None, minutes: int) -> None:
        if series is None:
            self.chart.set_visibility(False)
            self.chart_note.set_text("Deploy an MSPC model to see its control charts.")
            return
        key = (name, minutes, len(series.time), series.time[-1] if series.time else None)
        if key == self.shown.chart_key:
            return
        self.shown.chart_key = key
        if not series.time:
            self.chart.set_visibility(False)
            self.chart_note.set_text(f"{name} has not scored any row in the window yet.")
            return
        self.chart_note.set_text("")
        self.chart.update_figure(safety.safe_figure(control_figure(series, self.zone)))
        self.chart.set_visibility(True)

    def _show_detail(self, detail: AlarmDetail | None) -> None:
        key = () if detail is None else (detail.alarm, len(detail.history))
        if key == self.shown.detail_key:
            return
        self.shown.detail_key = key
        if detail is None:
            self.bars.set_visibility(False)
            self.detail_note.set_text("")
            return
        a = detail.alarm
        self.detail_note.set_text(
            f"Alarm {a.id} of {a.monitor} raised at {_when(a.raised_at, self.zone)}: "
            f"T2 {a.t2:.4g} (limit {a.t2_limit:.4g}), SPE {a.spe:.4g} (limit {a.spe_limit:.4g})"
            + (f"; deviation {a.deviation_id} on batch {a.batch_id}" if a.deviation_id else "")
        )
        self.bars.update_figure(safety.safe_figure(contribution_figure(detail)))
        self.bars.set_visibility(True)


def _families(page: _MonitoringPage, views: FamilyViews) -> None:
    """Batch evolution charts, soft-sensor trends and RUL predictions, redrawn when they
    change (each only when a model of its family is deployed)."""
    if views == page.shown.families:
        return
    page.shown.families = views
    page.families.clear()
    with page.families:
        if views.batches:
            with section("Batch evolution", "The batch running on each batch model's unit, "
                         "over the limits of good batches at its maturity."):  # fmt: skip
                for b in views.batches:
                    plot = ui.plotly(safety.safe_figure(batch_figure(b))).classes("w-full")
                    safety.slug_testid(plot.style("height: 560px"), "monitor-batch", b.monitor)
        if views.soft:
            with section("Soft sensors", "Streamed predictions of the last 2 hours."):
                for v in views.soft:
                    if not v.series:
                        ui.label(f"{v.monitor}: no prediction yet.").classes("text-grey-7")
                        continue
                    plot = ui.plotly(safety.safe_figure(soft_figure(v, page.zone)))
                    safety.slug_testid(plot.classes("w-full"), "monitor-soft", v.monitor)
        if views.rul:
            with section("Remaining useful life", "Latest prediction of each RUL model "
                         "[its time unit], with its interval."):  # fmt: skip
                table = RowTable(_RUL_COLUMNS, "monitor", "No prediction yet.", "rul", "monitor")
                table.show([rul_row(v, page.zone) for v in views.rul])


@workspace_page("/monitoring", "Monitoring")
async def monitoring_page(pc: PageContext) -> None:
    zone = ZoneInfo("UTC")
    if pc.site_id is not None:
        try:
            zone = ZoneInfo(pc.workspace.get_site(pc.site_id).timezone)
        except (PhactoryError, ValueError):
            zone = ZoneInfo("UTC")
    page = _MonitoringPage(pc, pc.app.monitoring, zone)
    await page.tick()
    ui.timer(REFRESH_S, page.tick)
